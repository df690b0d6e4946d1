import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { AuditEntry } from "../../src/audit/audit.js";
import { listGuardable, PAGE_SIZE } from "../../src/audit/inventory.js";
import { buildReports } from "../../src/audit/policy-report.js";
import { PolicyReportWriter } from "../../src/audit/report-writer.js";
import { runAudit } from "../../src/audit/run-audit.js";
import { loadKubeConfig } from "../../src/kube/kubeconfig.js";
import { config, example, exampleCluster } from "../support/fixtures.js";
import { type PagingApiServer, startPagingApiServer } from "../support/paging-api-server.js";

const JOBS = 100_000;
/** Every 10,000th Job runs br-ent: 10 guarded among 100,000. */
const BR_EVERY = 10_000;
const padding = "x".repeat(2048);
const brJob = example("backup-job.yaml");

/** A Job of about 2.5 KiB, as Jobs with a few labels, annotations and a template are. */
function job(index: number): Record<string, unknown> {
  const namespace = `team-${index % 50}`;
  if (index % BR_EVERY === 0)
    return {
      ...brJob,
      metadata: { ...brJob.metadata, name: `backup-${index}`, namespace: "nebula" },
    };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: `job-${index}`,
      namespace,
      uid: `uid-${index}`,
      labels: { app: "batch", index: String(index) },
      annotations: { "example.com/notes": padding },
    },
    spec: {
      template: {
        spec: {
          restartPolicy: "Never",
          containers: [{ name: "work", image: "busybox:1.36", command: ["sh", "-c", "true"] }],
        },
      },
    },
  };
}

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Heap still reachable after a full collection: what a run holds, not its garbage. */
function retainedHeap(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

let server: PagingApiServer;
let kubeconfigFile: string;
/** Sampled as pages are asked for: the previous page has been judged by then. */
let sampleHeap: (() => void) | undefined;

before(async () => {
  server = await startPagingApiServer(
    { jobs: { count: JOBS, make: job } },
    { onList: () => sampleHeap?.() },
  );
  kubeconfigFile = await server.kubeconfig(await mkdtemp(join(tmpdir(), "nbw-paging-")));
});

after(() => server.close());

function kubeConfig() {
  const loaded = loadKubeConfig(kubeconfigFile);
  if (!loaded.ok) throw new Error(loaded.reason);
  return loaded.kubeConfig;
}

describe("the audit lists page by page", () => {
  it(`reads ${JOBS.toLocaleString("en")} Jobs ${PAGE_SIZE} at a time, holding one page, and judges the 10 that run br-ent`, async () => {
    server.lists.length = 0;
    const baseline = retainedHeap();
    let peak = baseline;
    let asked = 0;
    sampleHeap = () => {
      if (++asked % 10 === 0) peak = Math.max(peak, retainedHeap());
    };
    const started = Date.now();
    const run = await runAudit(kubeConfig(), exampleCluster, config(), undefined);
    sampleHeap = undefined;
    const seconds = (Date.now() - started) / 1000;
    assert.ok(run.ok, run.ok ? "" : run.reason);
    assert.equal(run.objects, JOBS / BR_EVERY);
    assert.equal(new Set(run.entries.map((e) => e.name)).size, JOBS / BR_EVERY);
    assert.deepEqual(run.missingKinds, ["NebulaRestore", "NebulaBackup", "NebulaCronBackup"]);

    const jobLists = server.lists.filter((l) => l.resource === "jobs");
    assert.equal(jobLists.length, JOBS / PAGE_SIZE);
    assert.ok(
      server.lists.every((l) => l.limit === PAGE_SIZE),
      "every list carries limit=500",
    );
    assert.ok(jobLists.every((l) => l.items <= PAGE_SIZE));
    assert.equal(
      jobLists.reduce((sum, l) => sum + l.items, 0),
      JOBS,
    );
    // 100,000 Jobs of 2.5 KiB are 250 MiB of JSON; one page is about 1.3 MiB.
    const peakMiB = (peak - baseline) / 2 ** 20;
    console.log(
      `# ${JOBS} Jobs in ${jobLists.length} pages, ${seconds.toFixed(1)} s, retained heap at most +${peakMiB.toFixed(1)} MiB`,
    );
    assert.ok(peakMiB < 20, `the run held ${peakMiB.toFixed(0)} MiB while listing`);
  });

  it("follows a server that pages on its own (smaller pages than asked)", async () => {
    const small = await startPagingApiServer(
      { jobs: { count: 1234, make: job }, nebularestores: { count: 0, make: job } },
      { maxLimit: 100 },
    );
    try {
      const loaded = loadKubeConfig(
        await small.kubeconfig(await mkdtemp(join(tmpdir(), "nbw-paging-"))),
      );
      assert.ok(loaded.ok);
      const listed = await listGuardable(loaded.kubeConfig, undefined);
      assert.ok(listed.ok);
      assert.equal(listed.objects.filter((o) => o.kind === "Job").length, 1234);
      assert.deepEqual(listed.missingKinds, ["NebulaBackup", "NebulaCronBackup"]);
      assert.equal(small.lists.filter((l) => l.resource === "jobs").length, 13);
      assert.equal(listed.objects[0]?.apiVersion, "batch/v1", "kind and apiVersion filled in");
    } finally {
      await small.close();
    }
  });
});

describe("PolicyReports are written only when their content changed", () => {
  const entry = (namespace: string, name: string, result: AuditEntry["result"]): AuditEntry => ({
    namespace,
    apiVersion: "batch/v1",
    kind: "Job",
    name,
    uid: `uid-${name}`,
    rule: "backup-job-target-cluster",
    mode: "enforce",
    result,
    message: "m",
  });
  const namespaces = ["a", "b", "c", "d", "e"];
  const entries = namespaces.map((ns) => entry(ns, `job-${ns}`, "pass"));

  it("creates, then leaves alone what the API server returns in its own key order", async () => {
    server.writes.length = 0;
    const writes: string[] = [];
    const writer = new PolicyReportWriter(kubeConfig(), {
      onWrite: (op) => writes.push(op),
      pageSize: 2,
    });
    const first = await writer.reconcile(buildReports(entries, new Date("2025-01-01T00:00:00Z")));
    assert.deepEqual(first.ok && first.summary, {
      created: 5,
      updated: 0,
      deleted: 0,
      unchanged: 0,
    });
    for (let run = 1; run <= 3; run++) {
      const again = await writer.reconcile(
        buildReports(entries, new Date(Date.now() + run * 60_000)),
      );
      assert.deepEqual(again.ok && again.summary, {
        created: 0,
        updated: 0,
        deleted: 0,
        unchanged: 5,
      });
    }
    assert.equal(server.writes.length, 5, "five creates, then nothing in three runs");
    assert.ok(
      server.lists.filter((l) => l.resource === "policyreports").every((l) => l.limit === 2),
    );
  });

  it("updates only the namespace whose result changed, and deletes emptied ones", async () => {
    server.writes.length = 0;
    const writer = new PolicyReportWriter(kubeConfig(), { pageSize: 2 });
    const changed = [entry("a", "job-a", "fail"), ...entries.slice(1, 4)];
    const result = await writer.reconcile(buildReports(changed, new Date()));
    assert.deepEqual(result.ok && result.summary, {
      created: 0,
      updated: 1,
      deleted: 1,
      unchanged: 3,
    });
    assert.deepEqual(server.writes, [
      { verb: "update", namespace: "a" },
      { verb: "delete", namespace: "e" },
    ]);
  });

  it("writes nothing once this replica may no longer write (lost the audit Lease)", async () => {
    server.writes.length = 0;
    const writer = new PolicyReportWriter(kubeConfig(), { mayWrite: () => false });
    const result = await writer.reconcile(buildReports([entry("a", "job-a", "warn")], new Date()));
    assert.equal(result.ok, false);
    assert.match(result.ok ? "" : result.reason, /no longer holds the audit Lease/);
    assert.deepEqual(server.writes, []);
  });
});
