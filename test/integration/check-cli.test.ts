import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { REPO_ROOT } from "../support/fixtures.js";

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ["dist/src/cli.js", ...args], { cwd: REPO_ROOT, encoding: "utf8" });

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
