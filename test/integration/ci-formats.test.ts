import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  accessSync,
  constants,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { stringify } from "yaml";
import type { AuditEntry } from "../../src/audit/audit.js";
import { ciCases as auditCases } from "../../src/cli/audit-command.js";
import { toJunit, toSarif } from "../../src/cli/ci-report.js";
import { FAMILIES } from "../../src/rules/registry.js";
import { example, REPO_ROOT, withFields } from "../support/fixtures.js";
import { elements, parseXml, type XmlElement } from "../support/xml.js";

const CLI = join(REPO_ROOT, "dist/src/cli.js");
const STATE = ["--cluster-state", join(REPO_ROOT, "examples/cluster-state.yaml")];

/** A CI checkout: manifests under k8s/, `check` run from its root with relative paths. */
const WORK = mkdtempSync(join(tmpdir(), "nbw-ci-"));
after(() => rmSync(WORK, { recursive: true, force: true }));

const accepted = example("restore-accepted.yaml");
const denied = example("restore-denied.yaml");
const job = example("backup-job.yaml");
const configMap = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "settings", namespace: "nebula" },
  data: { a: "b" },
};
mkdirSync(join(WORK, "k8s"));
// The accepted restore first: the denied one starts on a later line (after `---`).
const restores = `${stringify(accepted)}---\n# the broken one\n${stringify(denied)}`;
writeFileSync(join(WORK, "k8s/restores.yaml"), restores);
writeFileSync(join(WORK, "k8s/jobs.yaml"), stringify(job));
writeFileSync(join(WORK, "k8s/config.yaml"), stringify(configMap));
const DENIED_LINE =
  restores.split("\n").findIndex((_line, i, all) => all[i - 1] === "# the broken one") + 1;

const run = (args: readonly string[], input?: string) =>
  spawnSync(process.execPath, [CLI, ...args], { cwd: WORK, encoding: "utf8", input });

const restoreRuleIds = (FAMILIES.find((f) => f.name === "NebulaRestore")?.rules ?? []).map(
  (r) => r.id,
);
const registryIds = [...new Set(FAMILIES.flatMap((f) => f.rules.map((r) => r.id)))];

interface SarifResult {
  ruleId: string;
  ruleIndex?: number;
  level: string;
  message: { text: string };
  locations: {
    physicalLocation?: { artifactLocation: { uri: string }; region: { startLine: number } };
    logicalLocations: { name: string; fullyQualifiedName: string }[];
  }[];
}

interface Sarif {
  $schema: string;
  version: string;
  runs: {
    tool: {
      driver: {
        name: string;
        rules: {
          id: string;
          shortDescription: { text: string };
          defaultConfiguration: { level: string };
        }[];
      };
    };
    results: SarifResult[];
  }[];
}

/** What every SARIF 2.1.0 log we write must hold for code scanning to take it. */
function assertSarif(sarif: Sarif): void {
  assert.equal(sarif.version, "2.1.0");
  assert.equal(sarif.$schema, "https://json.schemastore.org/sarif-2.1.0.json");
  assert.equal(sarif.runs.length, 1);
  const [runOne] = sarif.runs;
  const rules = runOne?.tool.driver.rules ?? [];
  assert.equal(runOne?.tool.driver.name, "nebula-br-webhook");
  for (const result of runOne?.results ?? []) {
    assert.match(result.level, /^(error|warning|note)$/);
    assert.equal(
      rules[result.ruleIndex as number]?.id,
      result.ruleId,
      "ruleIndex points at ruleId",
    );
    assert.ok(result.message.text.length > 0);
    assert.ok(result.locations.length > 0);
    const physical = result.locations[0]?.physicalLocation;
    if (physical) {
      assert.doesNotMatch(physical.artifactLocation.uri, /^\/|\\/, "relative, forward slashes");
      assert.ok(physical.region.startLine >= 1);
    }
  }
}

function testcases(suite: XmlElement | undefined): XmlElement[] {
  return suite ? elements(suite, "testcase") : [];
}

describe("check -o junit", () => {
  const checked = run(["check", "-f", "k8s/", ...STATE, "-o", "junit"]);
  const report = parseXml(checked.stdout);
  const suites = elements(report, "testsuite");
  const suite = (name: string) => suites.find((s) => s.attributes.name === name);

  it("exits 1 on a denial, with the verdicts on stderr and well-formed JUnit XML on stdout", () => {
    assert.equal(checked.status, 1, checked.stderr);
    assert.match(
      checked.stderr,
      /NebulaRestore nebula\/restore-broken \(k8s\/restores\.yaml\): DENIED/,
    );
    assert.match(checked.stdout, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites /);
    assert.equal(report.name, "testsuites");
  });

  it("has one suite per file and one case per object and rule", () => {
    assert.deepEqual(
      suites.map((s) => s.attributes.name),
      ["k8s/config.yaml", "k8s/jobs.yaml", "k8s/restores.yaml"],
    );
    const cases = testcases(suite("k8s/restores.yaml"));
    for (const name of ["restore1", "restore-broken"])
      assert.deepEqual(
        cases
          .filter(
            (c) => c.attributes.classname === `apps.nebula-graph.io/NebulaRestore nebula/${name}`,
          )
          .map((c) => c.attributes.name),
        restoreRuleIds,
      );
    for (const c of cases) assert.equal(c.attributes.file, "k8s/restores.yaml");
  });

  it("makes each denial a failure naming the field path, and counts them", () => {
    const failed = testcases(suite("k8s/restores.yaml")).filter(
      (c) => elements(c, "failure").length > 0,
    );
    assert.deepEqual(
      failed.map((c) => c.attributes.name),
      ["restore-secret-name", "restore-region", "restore-backup-name"],
    );
    const failure = elements(failed[0] as XmlElement, "failure")[0] as XmlElement;
    assert.equal(failure.attributes.type, "deny");
    assert.match(failure.attributes.message ?? "", /^spec\.br\.s3\.secretName: is required/);
    assert.match(failure.text, /^\[restore-secret-name\] spec\.br\.s3\.secretName: is required/);
    assert.equal(report.attributes.failures, "3");
    assert.equal(suite("k8s/restores.yaml")?.attributes.failures, "3");
    assert.equal(
      report.attributes.tests,
      String(elements(report, "testcase").length),
      "tests counts every case",
    );
  });

  it("passes warnings and completions, saying them in system-out; skips what no rule guards", () => {
    const jobCases = testcases(suite("k8s/jobs.yaml"));
    const warned = jobCases.find((c) => c.attributes.name === "backup-job-plaintext-credentials");
    assert.equal(elements(warned as XmlElement, "failure").length, 0);
    assert.match(
      elements(warned as XmlElement, "system-out")[0]?.text ?? "",
      /^WARN {2}\[backup-job-plaintext-credentials\] spec\.template\.spec\.containers\[0\]\.command\[2\]: --s3\.access_key and --s3\.secret_key written in plain text/,
    );
    const patched = testcases(suite("k8s/restores.yaml")).find(
      (c) =>
        c.attributes.classname?.endsWith("restore1") && c.attributes.name === "restore-concurrency",
    );
    assert.equal(
      elements(patched as XmlElement, "system-out")[0]?.text,
      "PATCH  [restore-concurrency] spec.br.concurrency: defaulted to 5",
    );
    const [skipped] = testcases(suite("k8s/config.yaml"));
    assert.equal(skipped?.attributes.classname, "ConfigMap nebula/settings");
    assert.equal(skipped?.attributes.name, "not guarded");
    assert.equal(elements(skipped as XmlElement, "skipped").length, 1);
    assert.equal(report.attributes.skipped, "1");
  });
});

describe("check -o sarif", () => {
  const checked = run(["check", "-f", "k8s/", ...STATE, "-o", "sarif"]);
  const sarif = JSON.parse(checked.stdout) as Sarif;
  const results = sarif.runs[0]?.results ?? [];

  it("is a SARIF 2.1.0 log with every rule of the registry and its description", () => {
    assert.equal(checked.status, 1, checked.stderr);
    assertSarif(sarif);
    const rules = sarif.runs[0]?.tool.driver.rules ?? [];
    assert.deepEqual(
      rules.map((r) => r.id),
      registryIds,
    );
    for (const family of FAMILIES)
      for (const rule of family.rules) {
        const described = rules.find((r) => r.id === rule.id);
        assert.equal(described?.shortDescription.text, rule.description);
        assert.equal(
          described?.defaultConfiguration.level,
          rule.defaultMode === "enforce" ? "error" : "warning",
        );
      }
  });

  it("reports denials as errors at the manifest file and the object's line, the field path in the message", () => {
    const errors = results.filter((r) => r.level === "error");
    assert.deepEqual(
      errors.map((r) => r.ruleId),
      ["restore-secret-name", "restore-region", "restore-backup-name"],
    );
    for (const error of errors) {
      assert.deepEqual(error.locations[0]?.physicalLocation, {
        artifactLocation: { uri: "k8s/restores.yaml" },
        region: { startLine: DENIED_LINE },
      });
      assert.deepEqual(error.locations[0]?.logicalLocations, [
        {
          name: "restore-broken",
          fullyQualifiedName: "nebula/apps.nebula-graph.io/NebulaRestore/restore-broken",
          kind: "object",
        },
      ]);
    }
    assert.match(
      errors[0]?.message.text ?? "",
      /^apps\.nebula-graph\.io\/NebulaRestore nebula\/restore-broken: spec\.br\.s3\.secretName: is required/,
    );
  });

  it("reports warnings as warnings, and neither passes nor completions", () => {
    const warnings = results.filter((r) => r.level === "warning");
    assert.deepEqual(
      warnings.map((r) => [r.ruleId, r.locations[0]?.physicalLocation?.artifactLocation.uri]),
      [["backup-job-plaintext-credentials", "k8s/jobs.yaml"]],
    );
    assert.equal(results.length, 4, JSON.stringify(results.map((r) => r.ruleId)));
  });

  it("follows the configured modes: warn is a warning, audit a note, off nothing; exit 0", () => {
    writeFileSync(
      join(WORK, "modes.yaml"),
      stringify({
        rules: {
          "restore-secret-name": "warn",
          "restore-region": "audit",
          "restore-backup-name": "off",
        },
      }),
    );
    const relaxed = run([
      "check",
      "-f",
      "k8s/restores.yaml",
      ...STATE,
      "--config",
      "modes.yaml",
      "-o",
      "sarif",
    ]);
    assert.equal(relaxed.status, 0, relaxed.stderr);
    const log = JSON.parse(relaxed.stdout) as Sarif;
    assertSarif(log);
    assert.deepEqual(
      log.runs[0]?.results.map((r) => [r.ruleId, r.level]),
      [
        ["restore-secret-name", "warning"],
        ["restore-region", "note"],
      ],
    );
    const junit = parseXml(
      run(["check", "-f", "k8s/restores.yaml", ...STATE, "--config", "modes.yaml", "-o", "junit"])
        .stdout,
    );
    assert.equal(junit.attributes.failures, "0");
    assert.equal(
      elements(junit, "testcase").filter((c) => c.attributes.name === "restore-backup-name").length,
      0,
      "a rule that is off does not run",
    );
  });
});

describe("CI reports from standard input and of hostile input", () => {
  it("-f - is reported as stdin, with no file to point at", () => {
    const fromStdin = run(["check", "-f", "-", ...STATE, "-o", "sarif"], stringify(denied));
    assert.equal(fromStdin.status, 1);
    const log = JSON.parse(fromStdin.stdout) as Sarif;
    assertSarif(log);
    for (const result of log.runs[0]?.results ?? []) {
      assert.equal(result.locations[0]?.physicalLocation, undefined);
      assert.equal(result.locations[0]?.logicalLocations[0]?.name, "restore-broken");
    }
    const junit = parseXml(
      run(["check", "-f", "-", ...STATE, "-o", "junit"], stringify(denied)).stdout,
    );
    assert.deepEqual(
      elements(junit, "testsuite").map((s) => s.attributes.name),
      ["stdin"],
    );
    assert.equal(elements(junit, "testcase")[0]?.attributes.file, undefined);
  });

  it("repeats no value of the object: a plain-text secret key appears in no report", () => {
    const secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY";
    const leaky = withFields(job, {
      "metadata.name": "leaky-backup",
      "spec.template.spec.containers.0.command.2": `exec /usr/local/bin/br-ent backup full --meta nebula-metad-0.nebula-metad-headless.nebula.svc:9559 --storage s3://nebula-br-test --s3.access_key AKIAEXAMPLE --s3.secret_key ${secret} --s3.region us-east-1 --s3.endpoint https://s3.us-east-1.amazonaws.com`,
    });
    for (const format of ["junit", "sarif"]) {
      const reported = run(["check", "-f", "-", ...STATE, "-o", format], stringify(leaky));
      assert.match(reported.stdout, /backup-job-plaintext-credentials/, format);
      assert.doesNotMatch(`${reported.stdout}${reported.stderr}`, new RegExp(secret), format);
      assert.doesNotMatch(`${reported.stdout}${reported.stderr}`, /AKIAEXAMPLE/, format);
    }
  });

  it("escapes what XML cannot hold in a name it reports", () => {
    const odd = { ...configMap, metadata: { name: `a<b>&"c'\u0001d`, namespace: "nebula" } };
    const reported = run(["check", "-f", "-", ...STATE, "-o", "junit"], stringify(odd));
    assert.equal(reported.status, 0, reported.stderr);
    const junit = parseXml(reported.stdout);
    assert.equal(
      elements(junit, "testcase")[0]?.attributes.classname,
      `ConfigMap nebula/a<b>&"c'\uFFFDd`,
    );
  });
});

describe("audit -o junit|sarif (its reduction of the audit's entries)", () => {
  const entry = (overrides: Partial<AuditEntry>): AuditEntry => ({
    namespace: "nebula",
    apiVersion: "apps.nebula-graph.io/v1alpha1",
    kind: "NebulaRestore",
    name: "restore-late",
    uid: "u1",
    rule: "restore-secret-name",
    mode: "enforce",
    result: "pass",
    message: "The Secret exists",
    ...overrides,
  });
  const entries = [
    entry({
      result: "fail",
      message: 'spec.br.s3.secretName: Secret "late-secret" not found in namespace "nebula"',
    }),
    entry({ rule: "restore-region" }),
    entry({
      kind: "Job",
      apiVersion: "batch/v1",
      name: "nightly",
      rule: "backup-job-plaintext-credentials",
      mode: "warn",
      result: "warn",
      message: "spec.template.spec.containers[0].command[2]: --s3.secret_key written in plain text",
    }),
  ];

  it("JUnit: one suite per kind, a failure per failed rule, warnings pass", () => {
    const junit = parseXml(toJunit(auditCases(entries), "nebula-br-webhook audit"));
    assert.equal(junit.attributes.name, "nebula-br-webhook audit");
    const suites = elements(junit, "testsuite");
    assert.deepEqual(
      suites.map((s) => [s.attributes.name, s.attributes.tests, s.attributes.failures]),
      [
        ["NebulaRestore", "2", "1"],
        ["Job", "1", "0"],
      ],
    );
    const failure = elements(junit, "failure")[0];
    assert.equal(failure?.attributes.type, "fail");
    assert.match(
      failure?.text ?? "",
      /^\[restore-secret-name\] spec\.br\.s3\.secretName: Secret "late-secret" not found/,
    );
    assert.equal(
      elements(junit, "system-out")[0]?.text.startsWith("WARN  [backup-job-plaintext-credentials]"),
      true,
    );
    assert.equal(elements(junit, "testcase")[1]?.children.length, 0, "a pass is an empty case");
  });

  it("SARIF: errors and warnings at the object (no file: it lives in the cluster)", () => {
    const sarif = JSON.parse(toSarif(auditCases(entries))) as Sarif;
    assertSarif(sarif);
    assert.deepEqual(
      sarif.runs[0]?.results.map((r) => [r.ruleId, r.level, r.locations[0]?.physicalLocation]),
      [
        ["restore-secret-name", "error", undefined],
        ["backup-job-plaintext-credentials", "warning", undefined],
      ],
    );
    assert.equal(
      sarif.runs[0]?.results[0]?.locations[0]?.logicalLocations[0]?.fullyQualifiedName,
      "nebula/NebulaRestore/restore-late",
    );
  });
});

/** A kubectl to run the plugin through: $KUBECTL, one on PATH, or the e2e build's. */
function findKubectl(): string | undefined {
  const candidates = [process.env.KUBECTL, "kubectl"];
  const cache = join(
    process.env.NEBULA_BR_CACHE ?? join(homedir(), ".cache/nebula-br-webhook"),
    "bin",
  );
  try {
    for (const dir of readdirSync(cache))
      if (dir.startsWith("k8s-")) candidates.push(join(cache, dir, "kubectl"));
  } catch {
    // No e2e build here.
  }
  return candidates.find(
    (kubectl) =>
      kubectl !== undefined &&
      spawnSync(kubectl, ["version", "--client"], { encoding: "utf8" }).status === 0,
  );
}

describe("the kubectl plugin kubectl-nebula_br", () => {
  const bin = join(REPO_ROOT, "bin");
  // Only the plugin's directory and node's: nothing else of this machine's PATH.
  const env = { ...process.env, PATH: `${bin}:${dirname(process.execPath)}:/usr/bin:/bin` };

  it("is package.json's bin entry, executable, and runs the CLI from PATH", () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8"));
    assert.equal(pkg.bin["kubectl-nebula_br"], "bin/kubectl-nebula_br");
    accessSync(join(bin, "kubectl-nebula_br"), constants.X_OK);
    const direct = spawnSync("kubectl-nebula_br", ["check", "-f", "k8s/restores.yaml", ...STATE], {
      cwd: WORK,
      encoding: "utf8",
      env,
    });
    assert.equal(direct.status, 1, direct.stderr);
    assert.match(direct.stdout, /restore-broken .*: DENIED/);
  });

  it("runs as `kubectl nebula-br check -f …` when on PATH", (t) => {
    const kubectl = findKubectl();
    if (!kubectl) {
      t.skip("no kubectl here ($KUBECTL, PATH, or the e2e build in ~/.cache/nebula-br-webhook)");
      return;
    }
    const viaKubectl = spawnSync(
      kubectl,
      ["nebula-br", "check", "-f", "k8s/", ...STATE, "-o", "sarif"],
      { cwd: WORK, encoding: "utf8", env },
    );
    assert.equal(viaKubectl.status, 1, viaKubectl.stderr);
    assertSarif(JSON.parse(viaKubectl.stdout) as Sarif);
    const listed = spawnSync(kubectl, ["plugin", "list"], { encoding: "utf8", env });
    assert.match(listed.stdout, /kubectl-nebula_br/);
  });
});
