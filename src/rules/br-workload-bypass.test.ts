import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BACKUP, BYPASSES, GOOD, job, sh, sleeper } from "../../test/support/bypasses.js";
import { config, judge, withFields } from "../../test/support/fixtures.js";
import { WORKLOAD_KIND_NAMES, workload } from "../../test/support/workloads.js";
import { familyFor } from "./registry.js";

describe("every bypass class an adversarial review found is denied", () => {
  for (const row of BYPASSES) {
    it(`denies ${row.name}`, () => {
      const verdicts = judge(row.object, { config: row.cfg });
      assert.equal(verdicts.decision.allowed, false, verdicts.messages.join("\n"));
      assert.ok(
        verdicts.violated.includes(row.rule),
        `${row.rule} not in ${verdicts.messages.join("\n")}`,
      );
    });
  }
});

describe("every kind that runs pods is guarded", () => {
  for (const kind of WORKLOAD_KIND_NAMES) {
    it(`denies a ${kind} whose pods back up a cluster without BR`, () => {
      const verdicts = judge(workload(kind, { containers: [sh(BACKUP)] }));
      assert.deepEqual(
        verdicts.violated,
        ["backup-job-target-cluster"],
        verdicts.messages.join("\n"),
      );
    });
    it(`admits a ${kind} whose pods back up a BR-ready cluster`, () => {
      const verdicts = judge(
        workload(kind, {
          containers: [sh(`br-ent backup full --meta ${GOOD} --storage s3://b-1`)],
        }),
      );
      assert.deepEqual(verdicts.violated, [], verdicts.messages.join("\n"));
    });
  }

  it("judges a Deployment's UPDATE only when its template changes (scaling is never blocked)", () => {
    const bad = workload("Deployment", { containers: [sh(BACKUP)] });
    const scaled = withFields(bad, { "spec.replicas": 3 });
    assert.deepEqual(judge(scaled, { operation: "UPDATE", oldObject: bad }).violated, []);
    const changed = withFields(bad, {
      "spec.template.spec.containers.0.image": "vesoft/br-ent:v3.8.0",
    });
    assert.deepEqual(judge(changed, { operation: "UPDATE", oldObject: bad }).violated, [
      "backup-job-target-cluster",
    ]);
  });

  it("judges an ephemeral container added to a running Pod (kubectl debug)", () => {
    const pod = workload("Pod", { containers: [sleeper, sh(`br-ent show --storage s3://b-1`)] });
    const debugged = withFields(pod, { "spec.ephemeralContainers": [sh(BACKUP)] });
    assert.deepEqual(judge(debugged, { operation: "UPDATE", oldObject: pod }).violated, [
      "backup-job-target-cluster",
    ]);
  });
});

describe("another namespace's cluster", () => {
  const crossing = job({
    containers: [
      sh(
        "br-ent backup full --meta graph-metad-0.graph-metad-headless.prod.svc.cluster.local:9560 --storage s3://b-1",
      ),
    ],
  });

  it("is allowed for a configured pair of namespaces, and then gets no pull secret of the other namespace", () => {
    const verdicts = judge(crossing, {
      config: config({ crossNamespace: [{ from: "nebula", to: "prod" }] }),
    });
    assert.deepEqual(verdicts.violated, []);
    assert.ok(!verdicts.decision.patch.some((op) => op.path.includes("imagePullSecrets")));
  });

  it("is not allowed by a pair in the other direction", () => {
    const verdicts = judge(crossing, {
      config: config({ crossNamespace: [{ from: "prod", to: "nebula" }] }),
    });
    assert.ok(verdicts.violated.includes("backup-job-cross-namespace"));
  });

  it("says how to allow it, naming only namespaces", () => {
    const message = judge(crossing).messages.find((m) => m.includes("cross-namespace")) ?? "";
    assert.match(message, /acts on a NebulaCluster in namespace "prod" from namespace "nebula"/);
    assert.match(message, /crossNamespace: \[\{from: nebula, to: prod\}\]/);
  });
});

describe("what is not BR", () => {
  for (const [what, container] of [
    [
      "our own webhook image",
      { name: "w", image: "nebula-br-webhook:0.1", command: ["nebula-br-webhook", "serve"] },
    ],
    [
      "a bucket named nebula-br-test",
      { name: "u", image: "amazon/aws-cli", command: ["aws", "s3", "ls", "s3://nebula-br-test"] },
    ],
  ] as const) {
    it(`leaves ${what} unguarded`, () => {
      assert.equal(familyFor(job({ containers: [container] }), "batch", "Job"), undefined);
    });
  }

  it("admits an echo that names br-ent", () => {
    const object = job({
      containers: [{ name: "e", image: "busybox", command: ["sh", "-c", "echo br-ent is next"] }],
    });
    assert.deepEqual(judge(object).violated, []);
  });
});
