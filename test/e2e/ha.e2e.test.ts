/**
 * Two replicas against a real kube-apiserver: both answer admissions, one (the holder of the
 * Lease nebula-br-webhook-audit) audits and writes PolicyReports, a killed leader is replaced
 * within the lease duration, and an audit that finds nothing new writes nothing.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { timingsFor } from "../../src/audit/leader-election.js";
import { example, withFields } from "../support/fixtures.js";
import { admissionReview, post } from "../support/https-client.js";
import { startServeProcess } from "../support/serve-process.js";
import { firstValue, until } from "../support/until.js";
import {
  type ControlPlane,
  eventually,
  installedRbac,
  kubectlOk,
  policyReportResults,
  startClusterWithFixtures,
  stopControlPlane,
  type Webhook,
} from "./harness.js";

const NAMESPACE = "nebula-br-webhook";
const LEASE = "nebula-br-webhook-audit";
const LEASE_SECONDS = 4;
const INTERVAL_SECONDS = 2;
const { retryPeriodMs } = timingsFor(LEASE_SECONDS);

const ARGS = [
  "--config",
  "test/e2e/fixtures/audit-config.yaml",
  "--audit-interval",
  String(INTERVAL_SECONDS),
  "--audit-lease-duration",
  String(LEASE_SECONDS),
  "--service-namespace",
  NAMESPACE,
];

let plane: ControlPlane;
let serviceAccountKubeconfig: string;
const replicas: Webhook[] = [];

/**
 * A kubeconfig for the webhook's ServiceAccount with the shipped RBAC
 * (manifests/base/rbac.yaml, as kustomize renders it), so the replicas prove those
 * permissions are enough.
 */
async function asServiceAccount(): Promise<string> {
  kubectlOk(
    plane,
    ["apply", "-f", "-"],
    installedRbac(kubectlOk(plane, ["kustomize", "manifests/base"])),
  );
  const token = kubectlOk(plane, ["-n", NAMESPACE, "create", "token", "nebula-br-webhook"]).trim();
  const admin = JSON.parse(kubectlOk(plane, ["config", "view", "--raw", "--minify", "-o", "json"]));
  const cluster = admin.clusters[0].cluster;
  const file = join(plane.dir, "service-account.kubeconfig");
  await writeFile(
    file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "e2e", cluster }],
      users: [{ name: "webhook", user: { token } }],
      contexts: [{ name: "webhook", context: { cluster: "e2e", user: "webhook" } }],
      "current-context": "webhook",
    }),
  );
  return file;
}

/** One replica: `serve` as the ServiceAccount, as in the Deployment. */
function startReplica(): Promise<Webhook> {
  return startServeProcess(["--kubeconfig", serviceAccountKubeconfig, ...ARGS], {
    logDir: join(plane.dir, "logs"),
  });
}

/** The sum of a metric's samples on one replica (0 when absent); undefined if unreachable. */
async function metric(webhook: Webhook, name: string, labels = ""): Promise<number | undefined> {
  try {
    const text = (await post(webhook.port, webhook.ca, "/metrics", undefined, { method: "GET" }))
      .text;
    let sum = 0;
    for (const line of text.split("\n")) {
      const match = line.match(/^([a-z_]+)(\{[^}]*\})? (\S+)$/);
      if (match?.[1] === `nebula_br_webhook_${name}` && (match[2] ?? "").includes(labels))
        sum += Number(match[3]);
    }
    return sum;
  } catch {
    return undefined;
  }
}

const isLeader = async (webhook: Webhook) => (await metric(webhook, "audit_leader")) === 1;
const reportWrites = (webhook: Webhook) => metric(webhook, "policy_reports_written_total");
const auditRuns = (webhook: Webhook) => metric(webhook, "audit_runs_total", 'outcome="ok"');

async function leaders(among: readonly Webhook[]): Promise<Webhook[]> {
  const flags = await Promise.all(among.map(isLeader));
  return among.filter((_, i) => flags[i]);
}

function lease(): { holderIdentity?: string; renewTime?: string; leaseTransitions?: number } {
  return JSON.parse(kubectlOk(plane, ["-n", NAMESPACE, "get", "lease", LEASE, "-o", "json"])).spec;
}

function report(): { resourceVersion: string; results: { rule: string; result: string }[] } {
  const got = JSON.parse(
    kubectlOk(plane, ["-n", "nebula", "get", "policyreport", "nebula-br-webhook", "-o", "json"]),
  );
  return { resourceVersion: got.metadata.resourceVersion, results: got.results };
}

function resultOf(rule: string): string | undefined {
  return policyReportResults(plane, "nebula")?.find(
    (r) => r.rule === rule && r.resources[0]?.name === "restore-ha",
  )?.result;
}

/** The replica's own log names its identity when it takes the lease. */
function identityIn(webhook: Webhook): string | undefined {
  for (const line of readFileSync(webhook.logFile, "utf8").split("\n")) {
    if (!line.includes("audit lease acquired")) continue;
    return JSON.parse(line).identity;
  }
  return undefined;
}

before(async () => {
  plane = await startClusterWithFixtures({
    generation: "v1.4-1.7",
    extraCrds: ["manifests/crds/"],
  });
  kubectlOk(plane, ["create", "namespace", NAMESPACE]);
  // Breaks restore-secret-name (in audit mode): something for the report to say.
  const restore = withFields(example("restore-accepted.yaml"), {
    "metadata.name": "restore-ha",
    "spec.br.s3.secretName": "ha-secret",
  });
  kubectlOk(plane, ["apply", "-f", "-"], JSON.stringify(restore));
  serviceAccountKubeconfig = await asServiceAccount();
  // Started together: they race for the Lease.
  replicas.push(...(await Promise.all([startReplica(), startReplica()])));
});

after(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  stopControlPlane(plane);
});

describe("two replicas, one auditor", () => {
  let leader: Webhook;
  let follower: Webhook;

  it("elects exactly one of them, and keeps it so", async () => {
    await until(async () => (await leaders(replicas)).length > 0, "a replica leads", {
      timeoutMs: 10_000,
    });
    for (let i = 0; i < 15; i++) {
      assert.equal((await leaders(replicas)).length, 1, "one leader at every look");
      await sleep(200);
    }
    [leader] = (await leaders(replicas)) as [Webhook];
    follower = replicas.find((r) => r !== leader) as Webhook;
    assert.equal(lease().holderIdentity, identityIn(leader));
    assert.equal(identityIn(follower), undefined, "the other never took it");
  });

  it("both answer admissions", async () => {
    for (const replica of replicas) {
      const accepted = admissionReview(example("restore-accepted.yaml"));
      const allowed = await post(replica.port, replica.ca, "/validate", accepted);
      assert.equal(allowed.status, 200);
      assert.equal(allowed.body.response.uid, accepted.request.uid);
      assert.equal(allowed.body.response.allowed, true);
      const denied = await post(
        replica.port,
        replica.ca,
        "/validate",
        admissionReview(example("restore-denied.yaml")),
      );
      assert.equal(denied.body.response.allowed, false);
      assert.match(denied.body.response.status.message, /restore-backup-name/);
    }
  });

  it("only the leader audits and writes the report", async () => {
    assert.ok(await eventually(() => resultOf("restore-secret-name") === "fail", 15_000));
    assert.ok(((await reportWrites(leader)) ?? 0) >= 1);
    assert.equal(await reportWrites(follower), 0);
    assert.equal(await auditRuns(follower), 0, "the follower does not even list");

    // A change: the Secret appears, the result turns to pass; the leader updates the report.
    const writesBefore = (await reportWrites(leader)) ?? 0;
    kubectlOk(plane, [
      "-n",
      "nebula",
      "create",
      "secret",
      "generic",
      "ha-secret",
      "--from-literal=access-key=a",
      "--from-literal=secret-key=b",
    ]);
    assert.ok(await eventually(() => resultOf("restore-secret-name") === "pass", 15_000));
    assert.equal((await reportWrites(leader)) ?? 0, writesBefore + 1, "one update");
    assert.equal(await reportWrites(follower), 0);
  });

  it("writes nothing when nothing changed between runs", async () => {
    const before = report().resourceVersion;
    const writes = (await reportWrites(leader)) ?? 0;
    const runs = (await auditRuns(leader)) ?? 0;
    // At least three more audits of the same cluster.
    await until(
      async () => ((await auditRuns(leader)) ?? 0) >= runs + 3,
      "the leader audits three more times",
      { timeoutMs: 5 * INTERVAL_SECONDS * 1000, everyMs: 100 },
    );
    assert.equal(report().resourceVersion, before, "the report's resourceVersion did not move");
    assert.equal(await reportWrites(leader), writes, "no write in three runs");
    const runsAfter = (await auditRuns(leader)) ?? 0;
    console.log(`# ${runsAfter - runs} audit runs with nothing new: 0 report writes`);
  });

  it("passes the lease to the other replica once a killed leader's lease has run out", async () => {
    const renewedBeforeKill = Date.parse(lease().renewTime ?? "");
    const writesBefore = (await reportWrites(follower)) ?? 0;
    leader.process.kill("SIGKILL");
    const killed = Date.now();
    await leader.exited;
    await until(() => isLeader(follower), "the follower leads", {
      timeoutMs: 3 * LEASE_SECONDS * 1000,
    });
    const takeover = Date.now() - killed;
    const spec = lease();
    assert.equal(spec.holderIdentity, identityIn(follower));
    const sinceLastRenewal = Date.parse(spec.renewTime ?? "") - renewedBeforeKill;
    console.log(
      `# takeover ${takeover} ms after SIGKILL, ${sinceLastRenewal} ms after the dead leader's last renewal (lease ${LEASE_SECONDS} s, retry ${retryPeriodMs} ms)`,
    );
    // A follower waits the lease duration from its last sight of a renewal (client-go's rule,
    // immune to clock skew), and looks every retry period.
    assert.ok(takeover >= (LEASE_SECONDS - 1) * 1000, `not before the lease ran out: ${takeover}`);
    assert.ok(
      sinceLastRenewal <= LEASE_SECONDS * 1000 + 2 * retryPeriodMs,
      `${sinceLastRenewal} ms after the last renewal`,
    );
    assert.ok(
      takeover <= LEASE_SECONDS * 1000 + 2 * retryPeriodMs,
      `${takeover} ms after the kill`,
    );

    // The new leader audits at once (nothing changed, so nothing written), then writes changes.
    const runs = await firstValue(
      async () => (await auditRuns(follower)) || undefined,
      "the new leader's first audit",
      { everyMs: 100 },
    );
    assert.ok(runs >= 1);
    assert.equal(await reportWrites(follower), writesBefore);
    kubectlOk(plane, ["-n", "nebula", "delete", "secret", "ha-secret"]);
    assert.ok(await eventually(() => resultOf("restore-secret-name") === "fail", 15_000));
    assert.equal(await reportWrites(follower), writesBefore + 1);
    leader = follower;
  });

  it("hands the lease over at once on SIGTERM (a rolling update)", async () => {
    const next = await startReplica();
    replicas.push(next);
    await sleep(1000);
    assert.equal(await isLeader(next), false, "the newcomer waits while the lease is renewed");
    leader.process.kill("SIGTERM");
    const terminated = Date.now();
    await until(() => isLeader(next), "the next replica leads", {
      timeoutMs: 3 * LEASE_SECONDS * 1000,
    });
    const takeover = Date.now() - terminated;
    console.log(`# takeover ${takeover} ms after SIGTERM (the lease is released)`);
    assert.ok(takeover < LEASE_SECONDS * 1000, `${takeover} ms: released, not expired`);
    assert.equal(await leader.exited, 0);
    assert.equal(lease().holderIdentity, identityIn(next));
  });
});
