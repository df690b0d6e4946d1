import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { BACKUP, sh } from "../support/bypasses.js";
import { example, REPO_ROOT, withFields } from "../support/fixtures.js";
import { post } from "../support/https-client.js";
import { workload } from "../support/workloads.js";
import {
  type ControlPlane,
  eventually,
  kubectl,
  kubectlOk,
  policyReportResults,
  startClusterWithFixtures,
  startWebhook,
  stopControlPlane,
  type Webhook,
  webhookConfigurations,
} from "./harness.js";

let plane: ControlPlane;
let webhook: Webhook;

const restore = withFields(example("restore-accepted.yaml"), {
  "metadata.name": "restore-late",
  "spec.br.s3.secretName": "late-secret",
});

/** Our PolicyReport's results for the restore, by rule id. */
function reportResults(): Record<string, string> | undefined {
  const results = policyReportResults(plane, "nebula");
  if (!results) return undefined;
  return Object.fromEntries(
    results.filter((r) => r.resources[0]?.name === "restore-late").map((r) => [r.rule, r.result]),
  );
}

const audit = (...args: string[]) =>
  spawnSync(
    process.execPath,
    ["dist/src/cli.js", "audit", "--kubeconfig", plane.kubeconfig, ...args],
    // The JSON of a hundred Jobs is more than spawnSync's default 1 MiB.
    { cwd: REPO_ROOT, encoding: "utf8", maxBuffer: 64 * 2 ** 20 },
  );

const metricsText = async () =>
  (await post(webhook.port, webhook.ca, "/metrics", undefined, { method: "GET" })).text;

before(async () => {
  // The restore under audit has the 1.4-1.7 shape (spec.br).
  plane = await startClusterWithFixtures({
    generation: "v1.4-1.7",
    extraCrds: ["manifests/crds/"],
  });
  // The audit Lease lives in the webhook's namespace (--service-namespace).
  kubectlOk(plane, ["create", "namespace", "nebula-br-webhook"]);
  webhook = await startWebhook(plane, [
    "--config",
    "test/e2e/fixtures/audit-config.yaml",
    "--audit-interval",
    "2",
  ]);
  kubectlOk(plane, ["apply", "-f", "-"], webhookConfigurations(webhook.port, webhook.ca));
});

after(async () => {
  await webhook?.stop();
  stopControlPlane(plane);
});

describe("policy audits on a real API server", () => {
  it("admits a restore that breaks a rule in audit mode, silently", () => {
    const applied = kubectl(plane, ["apply", "-f", "-"], JSON.stringify(restore));
    assert.equal(applied.status, 0, applied.stderr);
    assert.doesNotMatch(applied.stderr, /Warning/);
  });

  it("reports it as fail in the namespace's PolicyReport", async () => {
    const failed = await eventually(
      () => reportResults()?.["restore-secret-name"] === "fail",
      15_000,
    );
    assert.ok(failed, JSON.stringify(reportResults()));
    assert.equal(reportResults()?.["restore-region"], "pass");
  });

  it("`audit -A` lists it in a table with a summary, and exits 1", () => {
    const run = audit("-A");
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stdout, /^NAMESPACE\s+KIND\s+NAME\s+RULE\s+RESULT\s+MESSAGE$/m);
    assert.match(
      run.stdout,
      /^nebula\s+NebulaRestore\s+restore-late\s+restore-secret-name\s+FAIL\s+spec\.br\.s3\.secretName: Secret "late-secret" not found in namespace "nebula"/m,
    );
    assert.match(run.stdout, /1 object audited in all namespaces: \d+ pass, 1 fail, 0 warn/);
    const json = JSON.parse(audit("-n", "nebula", "-o", "json").stdout);
    assert.equal(json.summary.fail, 1);
  });

  it("`audit -n ..` is refused as no namespace's name, before anything is listed in its place", () => {
    for (const namespace of ["..", "nebula/..", "Nebula"]) {
      const run = audit("-n", namespace);
      assert.equal(run.status, 2, run.stdout);
      assert.match(run.stderr, /--namespace must name a namespace: a DNS-1123 label/);
      assert.equal(run.stdout, "");
    }
  });

  it("`audit -o junit` and `-o sarif` report it for CI: a failure, an error", () => {
    const junit = audit("-n", "nebula", "-o", "junit");
    assert.equal(junit.status, 1, junit.stderr);
    assert.match(junit.stderr, /1 object audited in namespace nebula/);
    assert.match(
      junit.stdout,
      /<testcase classname="NebulaRestore nebula\/restore-late" name="restore-secret-name">\n\s+<failure type="fail" message="spec\.br\.s3\.secretName: Secret &quot;late-secret&quot; not found/,
    );
    const sarif = audit("-n", "nebula", "-o", "sarif");
    assert.equal(sarif.status, 1, sarif.stderr);
    const results = JSON.parse(sarif.stdout).runs[0].results;
    assert.deepEqual(
      results.map((r: any) => [r.ruleId, r.level]),
      [["restore-secret-name", "error"]],
    );
  });

  it("counts it in /metrics", async () => {
    const text = await metricsText();
    assert.match(
      text,
      /nebula_br_webhook_rule_verdicts_total\{stage="validate",rule="restore-secret-name",mode="audit",verdict="fail"\} 1/,
    );
    assert.match(
      text,
      /nebula_br_webhook_audit_results\{rule="restore-secret-name",result="fail"\} 1/,
    );
    assert.match(text, /nebula_br_webhook_policy_reports_written_total\{operation="create"\} 1/);
    assert.match(text, /nebula_br_webhook_cluster_view_synced 1/);
  });

  it("fixing it (creating the Secret) turns the result to pass, updating the report in place", async () => {
    const uid = JSON.parse(
      kubectlOk(plane, ["-n", "nebula", "get", "policyreport", "nebula-br-webhook", "-o", "json"]),
    ).metadata.uid;
    kubectlOk(plane, [
      "-n",
      "nebula",
      "create",
      "secret",
      "generic",
      "late-secret",
      "--from-literal=access-key=a",
      "--from-literal=secret-key=b",
    ]);
    const passed = await eventually(
      () => reportResults()?.["restore-secret-name"] === "pass",
      15_000,
    );
    assert.ok(passed, JSON.stringify(reportResults()));
    const report = JSON.parse(
      kubectlOk(plane, ["-n", "nebula", "get", "policyreport", "nebula-br-webhook", "-o", "json"]),
    );
    assert.equal(report.metadata.uid, uid, "the same report, updated");
    assert.equal(report.summary.fail, 0);
    assert.equal(audit("-A").status, 0);
    assert.equal(
      kubectlOk(plane, ["get", "policyreports", "-A", "-o", "name"]).trim().split("\n").length,
      1,
      "one report per namespace, not duplicated",
    );
  });

  it("a deleted object leaves the report", async () => {
    kubectlOk(plane, ["-n", "nebula", "delete", "nebularestore", "restore-late"]);
    const gone = await eventually(
      () => reportResults() === undefined || Object.keys(reportResults() ?? {}).length === 0,
      15_000,
    );
    assert.ok(gone, JSON.stringify(reportResults()));
  });

  it("audits every kind that runs pods: a Deployment backing up a cluster without BR fails, its ReplicaSet and Pods are not counted twice", async () => {
    const deployment = workload(
      "Deployment",
      {
        containers: [sh(BACKUP)],
      },
      { name: "br-deployment" },
    );
    const applied = kubectl(plane, ["apply", "-f", "-"], JSON.stringify(deployment));
    assert.equal(applied.status, 0, applied.stderr);
    const failed = await eventually(() => {
      const run = audit("-n", "nebula", "-o", "json");
      const results = (JSON.parse(run.stdout || "{}").results ?? []) as any[];
      return results.some(
        (r) =>
          r.kind === "Deployment" &&
          r.name === "br-deployment" &&
          r.rule === "backup-job-target-cluster" &&
          r.result === "fail",
      );
    }, 15_000);
    assert.ok(failed, audit("-n", "nebula").stdout);
    // No controller manager runs here: play the Deployment controller's ReplicaSet by hand.
    const uid = JSON.parse(
      kubectlOk(plane, ["-n", "nebula", "get", "deployment", "br-deployment", "-o", "json"]),
    ).metadata.uid;
    const replicaSet = {
      ...workload("ReplicaSet", { containers: [sh(BACKUP)] }, { name: "br-deployment-1" }),
      metadata: {
        name: "br-deployment-1",
        namespace: "nebula",
        ownerReferences: [
          {
            apiVersion: "apps/v1",
            kind: "Deployment",
            name: "br-deployment",
            uid,
            controller: true,
          },
        ],
      },
    };
    kubectlOk(plane, ["create", "-f", "-"], JSON.stringify(replicaSet));
    const kinds = (JSON.parse(audit("-n", "nebula", "-o", "json").stdout).results as any[]).map(
      (r) => r.kind,
    );
    assert.ok(!kinds.includes("ReplicaSet") && !kinds.includes("Pod"), kinds.join(" "));
  });

  it("splits a namespace with more results than one report holds into parts tied by a label, and drops the parts it no longer needs", async () => {
    const job = example("backup-job.yaml") as { metadata: Record<string, unknown> };
    // About 14 results a Job: 100 Jobs are more than the 1,000 results one report holds.
    const jobs = Array.from({ length: 100 }, (_, i) => ({
      ...job,
      metadata: {
        ...job.metadata,
        name: `many-${String(i).padStart(3, "0")}`,
        labels: { ...(job.metadata.labels as object), "e2e.test/many": "yes" },
      },
    }));
    kubectlOk(
      plane,
      ["apply", "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "List", items: jobs }),
    );
    const parts = (): any[] =>
      JSON.parse(
        kubectlOk(plane, [
          "-n",
          "nebula",
          "get",
          "policyreports",
          "-l",
          "nebula-br-webhook/report-set=nebula-br-webhook",
          "-o",
          "json",
        ]),
      ).items;
    const reported = () =>
      new Set(
        parts()
          .flatMap((p) => p.results)
          .map((r: any) => r.resources[0].name)
          .filter((name: string) => name.startsWith("many-")),
      ).size;
    assert.ok(await eventually(() => reported() === 100, 60_000), `${reported()} of 100 reported`);
    const written = parts();
    assert.deepEqual(written.map((p) => p.metadata.name).sort(), [
      "nebula-br-webhook",
      "nebula-br-webhook-2",
    ]);
    for (const part of written) {
      assert.ok(part.results.length <= 1000, `${part.metadata.name}: ${part.results.length}`);
      const counted = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 } as Record<string, number>;
      for (const r of part.results) counted[r.result] = (counted[r.result] ?? 0) + 1;
      assert.deepEqual(part.summary, counted, `${part.metadata.name}: its own summary`);
    }
    const everyObjectOnce = written.flatMap((p) => [
      ...new Set(p.results.map((r: any) => `${r.resources[0].kind}/${r.resources[0].name}`)),
    ]);
    assert.equal(everyObjectOnce.length, new Set(everyObjectOnce).size, "an object in one part");

    // The streamed -o json of the same audit parses, with every Job in it.
    const json = audit("-n", "nebula", "-o", "json");
    const document = JSON.parse(json.stdout);
    assert.equal(
      new Set(document.results.map((r: any) => r.name).filter((n: string) => n.startsWith("many-")))
        .size,
      100,
    );
    assert.equal(
      document.results.length,
      document.summary.pass + document.summary.fail + document.summary.warn,
    );

    kubectlOk(plane, ["-n", "nebula", "delete", "jobs", "-l", "e2e.test/many=yes"]);
    const shrunk = await eventually(
      () =>
        parts()
          .map((p) => p.metadata.name)
          .join() === "nebula-br-webhook",
      60_000,
    );
    assert.ok(
      shrunk,
      parts()
        .map((p) => p.metadata.name)
        .join(),
    );
  });
});
