import assert from "node:assert/strict";
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse, stringify } from "yaml";
import { parseManifests } from "../../src/kube/manifests.js";
import { REPO_ROOT } from "../support/fixtures.js";

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ["dist/src/cli.js", ...args], { cwd: REPO_ROOT, encoding: "utf8" });

/** `check` with `input` on its standard input. */
const cliWithInput = (input: string, ...args: string[]) =>
  spawnSync(process.execPath, ["dist/src/cli.js", ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    input,
  });

const TESTDATA = "test/integration/testdata/kubectl-yaml";
const STATE = ["--cluster-state", "examples/cluster-state.yaml"];
const META = "nebula-metad-0.nebula-metad-headless.nebula.svc:9559";
const S3 = "--s3.region us-east-1 --s3.endpoint https://s3.us-east-1.amazonaws.com";

interface Container {
  name: string;
  command?: string[];
  args?: string[];
  volumeMounts?: unknown[];
}
interface Printed {
  kind: string;
  metadata: { name: string };
  spec?: {
    containers?: Container[];
    template?: {
      spec: { containers: Container[]; volumes?: { secret?: { defaultMode: number } }[] };
    };
  };
}

/** The objects `check -o json` printed, one or a List. */
function printed(stdout: string): Printed[] {
  const value = JSON.parse(stdout);
  return value.kind === "List" ? value.items : [value];
}

function containersOf(object: Printed | undefined): Container[] {
  return object?.spec?.template?.spec.containers ?? object?.spec?.containers ?? [];
}

/**
 * Shapes of the NebulaGraph Operator's published Job samples (written for these tests,
 * not copied), with the script kubectl 1.32 makes of each (checked with
 * `kubectl annotate --local -f FILE k=v -o json`).
 */
const SAMPLE_SHAPES: { file: string; job: string; script: string }[] = [
  {
    file: "backup-job-tls-v1.5.yaml",
    job: "tls-full-backup",
    script: `exec /usr/local/bin/br-ent backup full --meta ${META} --storage s3://team-backups --s3.access_key AKIAEXAMPLE --s3.secret_key example-secret ${S3} --enable_ssl --insecure_skip_verify`,
  },
  {
    file: "incr-backup-job-with-secret.yaml",
    job: "nightly-incr-backup",
    script: `exec /usr/local/bin/br-ent backup incr --base BACKUP_2024_05_01_02_00_00 --meta ${META} --storage s3://team-backups/nightly ${S3}`,
  },
  {
    file: "backup-job-v1.8.yaml",
    job: "full-backup",
    script: `exec /usr/local/bin/br-ent backup full --meta ${META} --storage s3://team-backups ${S3}`,
  },
  {
    file: "backup-job-tls-sidecar.yaml",
    job: "tls-env-backup",
    script: `exec /usr/local/bin/br-ent backup full --meta ${META} --storage s3://team-backups ${S3} --enable-ssl --insecure-skip-verify`,
  },
];
const SHAPE_FILES = [...SAMPLE_SHAPES.map((s) => s.file), "restore-pod-flow-args.yaml"];

/** One `check -o json` over every shape (a process start costs about a second). */
let shapesRun: SpawnSyncReturns<string> | undefined;
function checkedShapes(): { status: number | null; stderr: string; objects: Printed[] } {
  shapesRun ??= cli(
    "check",
    "-f",
    ...SHAPE_FILES.map((f) => `${TESTDATA}/${f}`),
    ...STATE,
    "-o",
    "json",
  );
  return { ...shapesRun, objects: printed(shapesRun.stdout) };
}

/** A kubectl to compare with: $KUBECTL, else the one on PATH; undefined when there is none. */
function findKubectl(): string | undefined {
  const kubectl = process.env.KUBECTL ?? "kubectl";
  const probe = spawnSync(kubectl, ["version", "--client"], { encoding: "utf8" });
  return probe.status === 0 ? kubectl : undefined;
}

/** The reason parseManifests gives for `text` read from stdin. */
function reasonFor(text: string): string {
  const parsed = parseManifests(text, "stdin");
  assert.equal(parsed.ok, false, text);
  return parsed.ok ? "" : parsed.reason;
}

describe("nebula-br-webhook check", () => {
  it("exits 1 and names each broken rule when a manifest is denied", () => {
    const run = cli("check", "-f", "examples/restore-denied.yaml");
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stdout, /NebulaRestore nebula\/restore-broken .*: DENIED/);
    assert.match(
      run.stdout,
      /DENY {2}\[restore-secret-name\] spec\.br\.s3\.secretName: is required/,
    );
    assert.match(run.stdout, /1 object, 1 guarded, 1 denied/);
  });

  it("exits 0 for accepted manifests and prints the mutated objects with -o yaml", () => {
    const run = cli(
      "check",
      "-f",
      "examples/restore-accepted.yaml",
      "examples/backup-job.yaml",
      "-o",
      "yaml",
    );
    assert.equal(run.status, 0, run.stderr);
    const [restore, job] = run.stdout.split(/^---$/m).map((doc) => parse(doc));
    assert.equal(restore.spec.br.concurrency, 5);
    assert.deepEqual(job.spec.template.spec.imagePullSecrets, [{ name: "br-ent-secret" }]);
    assert.match(run.stderr, /WARN {2}\[backup-job-plaintext-credentials\]/);
  });

  it("reads directories and honours --cluster-state and --config", () => {
    const run = cli(
      "check",
      "-f",
      "examples",
      "--config",
      "test/integration/testdata/audit-everything.yaml",
    );
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /AUDIT \[restore-region\]/);
  });

  it("exits 2 with a reason on unreadable input", () => {
    const missing = cli("check", "-f", "no/such/file.yaml");
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /cannot read no\/such\/file.yaml: ENOENT/);
    const badConfig = cli("check", "-f", "examples", "--config", "examples/restore-denied.yaml");
    assert.equal(badConfig.status, 2);
    assert.match(badConfig.stderr, /invalid configuration/);
  });
});

describe("check reads what kubectl reads", () => {
  it("reads all the sample shapes (objects in order, nothing left over)", () => {
    const { status, stderr, objects } = checkedShapes();
    assert.ok(status === 0 || status === 1, stderr);
    assert.deepEqual(
      objects.map((o) => `${o.kind}/${o.metadata.name}`),
      [
        "Job/tls-full-backup",
        "Secret/s3-keys",
        "Job/nightly-incr-backup",
        "Job/full-backup",
        "Job/tls-env-backup",
        "Pod/restore-from-s3",
      ],
    );
  });

  for (const shape of SAMPLE_SHAPES) {
    it(`reads the multi-line single-quoted script of ${shape.file} as kubectl does`, () => {
      const job = checkedShapes().objects.find((o) => o.metadata.name === shape.job);
      assert.deepEqual(containersOf(job)[0]?.command, ["/bin/sh", "-ecx", shape.script]);
    });
  }

  it("reads on after the script, and YAML 1.1 octals as kubectl does", () => {
    const { objects } = checkedShapes();
    const tls = objects.find((o) => o.metadata.name === "tls-full-backup");
    assert.equal(containersOf(tls)[0]?.volumeMounts?.length, 2);
    // `defaultMode: 0644` is octal to go-yaml, hence to kubectl
    assert.deepEqual(
      tls?.spec?.template?.spec.volumes?.map((v) => v.secret?.defaultMode),
      [420, 420],
    );
    const sidecar = objects.find((o) => o.metadata.name === "tls-env-backup");
    assert.deepEqual(
      containersOf(sidecar).map((c) => c.name),
      ["backup", "auth-sidecar"],
    );
  });

  it("reads double-quoted scripts and flow sequences whose lines go back left", () => {
    const pod = checkedShapes().objects.find((o) => o.kind === "Pod");
    assert.deepEqual(containersOf(pod)[0]?.args, [
      "exec /usr/local/bin/br-ent restore full --mode=k8s --cluster=nebula --namespace nebula --name BACKUP_2024_05_01_02_00_00",
      "--storage s3://team-backups",
    ]);
  });

  it("gives the same commands as the kubectl at hand, and reads its JSON stream", (t) => {
    const kubectl = findKubectl();
    if (!kubectl) {
      t.skip("no kubectl ($KUBECTL or on PATH)");
      return;
    }
    const files = SHAPE_FILES.flatMap((f) => ["-f", `${TESTDATA}/${f}`]);
    const theirs = spawnSync(kubectl, ["annotate", "--local", ...files, "k=v", "-o", "json"], {
      cwd: REPO_ROOT,
      encoding: "utf8",
    });
    assert.equal(theirs.status, 0, theirs.stderr);
    // kubectl prints several objects as concatenated JSON; check reads that from stdin.
    const viaKubectl = cliWithInput(theirs.stdout, "check", "-f", "-", ...STATE, "-o", "json");
    assert.ok(viaKubectl.status === 0 || viaKubectl.status === 1, viaKubectl.stderr);
    const commands = (objects: Printed[]) =>
      objects.map((o) => [o.metadata.name, containersOf(o).map((c) => [c.command, c.args])]);
    assert.deepEqual(commands(checkedShapes().objects), commands(printed(viaKubectl.stdout)));
  });

  it("reads manifests from standard input with -f -, alone and among files", () => {
    const manifest = readFileSync(`${REPO_ROOT}${TESTDATA}/backup-job-v1.8.yaml`, "utf8");
    const mixed = cliWithInput(
      manifest,
      "check",
      "-f",
      `${TESTDATA}/incr-backup-job-with-secret.yaml`,
      "-",
      "examples/restore-accepted.yaml",
      ...STATE,
    );
    assert.ok(mixed.status === 0 || mixed.status === 1, mixed.stderr);
    assert.match(mixed.stdout, /^4 objects, 3 guarded/m);
    const sources = [...mixed.stdout.matchAll(/ \((.+)\): /g)].map((m) => m[1]);
    assert.deepEqual(sources, [
      `${TESTDATA}/incr-backup-job-with-secret.yaml`,
      `${TESTDATA}/incr-backup-job-with-secret.yaml`,
      "stdin",
      "examples/restore-accepted.yaml",
    ]);

    const twice = cliWithInput(manifest, "check", "-f", "-", "-", ...STATE);
    assert.equal(twice.status, 2, twice.stderr);
    assert.match(twice.stderr, /standard input \(-f -\) can be read only once/);
  });

  it("reads a stream of JSON objects, as kubectl and jq print them", () => {
    const objects = ["a", "b"].map((name) =>
      JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name } }, null, 1),
    );
    const parsed = parseManifests(objects.join("\n"), "stdin");
    assert.deepEqual(parsed.ok && parsed.objects.map((o) => o.object.metadata?.name), ["a", "b"]);
  });

  it("prints -o yaml that reads back as the same values (strings go-yaml would not keep are quoted)", () => {
    const object = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "words", labels: { enabled: "yes" } },
      data: { a: "on", b: "n", c: "0644", d: "0o644", e: "1_000", f: "1:20" },
    };
    const run = cliWithInput(JSON.stringify(object), "check", "-f", "-", ...STATE, "-o", "yaml");
    assert.equal(run.status, 0, run.stderr);
    const back = parseManifests(run.stdout, "stdout");
    assert.deepEqual(back.ok && back.objects.map((o) => o.object), [object]);
  });

  it("exits 2 naming file, line and column for YAML that kubectl cannot read either", () => {
    const unclosed = cli("check", "-f", `${TESTDATA}/unclosed-quote.yaml`, ...STATE);
    assert.equal(unclosed.status, 2, unclosed.stderr);
    assert.match(
      unclosed.stderr,
      /unclosed-quote\.yaml:13:15: invalid YAML: this quoted string is not closed before the end of its document/,
    );
    const table: [string, RegExp][] = [
      ["kind: ConfigMap\nmetadata:\n  name: a\n   labels: {}\n", /^stdin:3:\d+: invalid YAML: /],
      ["kind: ConfigMap\ndata: [a, b\n", /^stdin:\d+:\d+: invalid YAML: /],
      // go-yaml ends a quoted string at a document marker too
      ["kind: ConfigMap\ndata: 'x\n---\ny'\n", /^stdin:2:7: invalid YAML: this quoted string/],
      ['kind: ConfigMap\ndata: "x\n...\ny"\n', /^stdin:2:7: invalid YAML: this quoted string/],
      // what the line-up leniency must not excuse
      ["kind: Job\nspec:\n  command: 'a\n  b' trailing\n", /^stdin:4:\d+: invalid YAML: /],
      ["kind: Job\n'multi\nline key': 1\n", /^stdin:2:\d+: invalid YAML: /],
    ];
    for (const [input, reason] of table) assert.match(reasonFor(input), reason, input);
  });

  it("exits 2 for documents kubectl would not take as objects", () => {
    const run = cliWithInput("apiVersion: v1\nmetadata: {name: a}\n", "check", "-f", "-", ...STATE);
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /stdin:1: the object has no kind/);
    const table: [string, RegExp][] = [
      ["kind: Job\nmetadata: {name: a}\n", /^stdin:1: the Job has no apiVersion/],
      ["- a\n- b\n", /^stdin:1: expected a Kubernetes object .*, found a list/],
      ["a: 1\n---\njust words\n", /^stdin:1: the object has no kind/],
      ["apiVersion: v1\nkind: Pod\nmetadata: x\n", /metadata of the Pod is not a mapping/],
      ["apiVersion: v1\nkind: Pod\nmetadata: {name: 5}\n", /metadata\.name of the Pod is not/],
      ["apiVersion: v1\nkind: Pod\nmetadata: {labels: {on: yes}}\n", /metadata\.labels of the Pod/],
      ["apiVersion: v1\nkind: List\nitems:\n- 5\n", /^stdin:1: items\[0\]: expected a Kubernetes/],
      [
        "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
        /^stdin:1: Excessive alias count/,
      ],
    ];
    for (const [input, reason] of table) assert.match(reasonFor(input), reason, input);
  });

  it("warns once on stderr when the verdicts use the example cluster state", () => {
    const example = cli("check", "-f", "examples/backup-job.yaml");
    const warnings = example.stderr.split("\n").filter((l) => l.includes("warning"));
    assert.equal(warnings.length, 1, example.stderr);
    assert.match(
      warnings[0] ?? "",
      /the verdicts use the example cluster state .*; give --cluster-state FILE .* or --kubeconfig FILE/,
    );
    const given = cli("check", "-f", "examples/backup-job.yaml", ...STATE);
    assert.doesNotMatch(given.stderr, /warning/);
  });

  it("takes --kubeconfig for a live cluster, and exits 2 when it cannot reach it", (t) => {
    const dir = mkdtempSync(join(tmpdir(), "check-cli-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:1" } }],
        users: [{ name: "u", user: { token: "t" } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
        "current-context": "x",
      }),
    );
    const run = cli("check", "-f", "examples/backup-job.yaml", "--kubeconfig", kubeconfig);
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /cannot read NebulaClusters through .*kubeconfig/);
    assert.doesNotMatch(run.stderr, /warning/);
  });

  it("exits 2, not 1, on usage errors", () => {
    const none = cli("check");
    assert.equal(none.status, 2, none.stderr);
    const both = cli("check", "-f", "examples", "--kubeconfig", "k", "--cluster-state", "s");
    assert.equal(both.status, 2, both.stderr);
    assert.match(both.stderr, /cannot be used with/);
  });
});
