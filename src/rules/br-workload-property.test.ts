import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { judge } from "../../test/support/fixtures.js";
import { WORKLOAD_KIND_NAMES, workload } from "../../test/support/workloads.js";

/**
 * Whatever wraps a backup (wrappers, shells, chained commands, container placement, workload
 * kind, how --meta is written), a backup of the cluster without BR is denied and the same
 * backup of the BR-ready cluster is admitted.
 */
const HOSTS = {
  good: "nebula-metad-0.nebula-metad-headless.nebula.svc.cluster.local:9559",
  bad: "nebula-nobr-metad-0.nebula-nobr-metad-headless.nebula.svc.cluster.local:9559",
};

const binary = fc.constantFrom(
  "br-ent",
  "/usr/local/bin/br-ent",
  "nebula-br",
  "./br-ent-3.7.0-linux-amd64",
);
const wrappers = fc.array(
  fc.constantFrom(
    ["exec"],
    ["exec", "-a", "worker"],
    ["env", "X=1"],
    ["nice", "-n", "5"],
    ["timeout", "3600"],
    ["nohup"],
    ["command"],
  ),
  { maxLength: 3 },
);
const shell = fc.constantFrom(
  undefined,
  ["sh", "-c"],
  ["/bin/sh", "-ecx"],
  ["bash", "-o", "pipefail", "-c"],
  ["sh", "+e", "-c"],
  ["sh", "-c", "--"],
  ["busybox", "sh", "-c"],
  ["env", "A=1", "sh", "-c"],
  ["tini", "--", "sh", "-c"],
  ["dumb-init", "--", "bash", "-lc"],
);
const before = fc.constantFrom(
  "",
  "echo start; ",
  "br-ent version && ",
  "set -e\n",
  "mkdir -p /tmp/x; ",
  "br-ent show --storage s3://b-1; ",
);
const after = fc.constantFrom(
  "",
  " && echo done",
  "; sleep 1",
  " | tee /tmp/log",
  "\necho finished",
);
const metaForm = fc.constantFrom("literal", "variable", "kubelet");
const list = fc.constantFrom("containers", "initContainers");
const kind = fc.constantFrom(...WORKLOAD_KIND_NAMES);
const position = fc.nat({ max: 2 });
const labelled = fc.boolean();

const scenario = fc.record({
  binary,
  wrappers,
  shell,
  before,
  after,
  metaForm,
  list,
  kind,
  position,
  labelled,
});
type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function build(s: Scenario, target: "good" | "bad") {
  const host = HOSTS[target];
  const env: { name: string; value: string }[] = [];
  let meta = host;
  if (s.metaForm === "variable") {
    env.push({ name: "M", value: host });
    meta = s.shell ? "$M" : host; // the exec form has no shell to expand $M
  } else if (s.metaForm === "kubelet") {
    env.push({ name: "M", value: host });
    meta = "$(M)";
  }
  const argv = [
    ...s.wrappers.flat(),
    s.binary,
    "backup",
    "full",
    "--meta",
    meta,
    "--storage",
    "s3://b-1",
  ];
  const command = s.shell ? [...s.shell, `${s.before}${argv.join(" ")}${s.after}`] : argv;
  const backup = {
    name: "backup",
    image: "vesoft/br-ent:v3.7.0",
    command,
    ...(env.length ? { env } : {}),
  };
  const others = [0, 1].map((i) => ({
    name: `side-${i}`,
    image: "busybox",
    command: ["sleep", "60"],
  }));
  const containers = [...others];
  const placed = [...others];
  placed.splice(s.position, 0, backup);
  const pod =
    s.list === "containers" ? { containers: placed } : { initContainers: placed, containers };
  const labels = s.labelled
    ? { "app.kubernetes.io/cluster": target === "good" ? "nebula" : "nebula-nobr" }
    : undefined;
  return workload(s.kind, pod, { labels });
}

describe("property: wrappers and placement never change the verdict", () => {
  it("denies every backup of the cluster without BR and admits every backup of the BR-ready one", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const bad = judge(build(s, "bad"));
        assert.equal(bad.decision.allowed, false, JSON.stringify(s));
        assert.ok(bad.violated.includes("backup-job-target-cluster"), bad.messages.join("\n"));
        const good = judge(build(s, "good"));
        assert.equal(
          good.decision.allowed,
          true,
          `${JSON.stringify(s)}\n${good.messages.join("\n")}`,
        );
        assert.deepEqual(good.violated, [], good.messages.join("\n"));
      }),
      { numRuns: 2000 },
    );
  });
});
