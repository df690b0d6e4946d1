import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { AuditEntry } from "../../src/audit/audit.js";
import { listGuardable, PAGE_SIZE } from "../../src/audit/inventory.js";
import {
  namespaceReports,
  type PolicyReport,
  policyReports,
  REPORT_LIMITS,
  REPORT_NAME,
} from "../../src/audit/policy-report.js";
import { PolicyReportWriter, WRITE_CONCURRENCY } from "../../src/audit/report-writer.js";
import { runAudit } from "../../src/audit/run-audit.js";
import { loadKubeConfig } from "../../src/kube/kubeconfig.js";
import { auditEntry, config, example, exampleCluster } from "../support/fixtures.js";
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
    assert.equal(new Set([...run.results.entries()].map((e) => e.name)).size, JOBS / BR_EVERY);
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

/** A br-ent backup Job (the documented sample), the `index`th of `namespaces` namespaces. */
function guardedJob(index: number, namespaces: number): Record<string, unknown> {
  return {
    ...brJob,
    metadata: {
      ...brJob.metadata,
      name: `backup-${index}`,
      namespace: `team-${index % namespaces}`,
      uid: `00000000-0000-4000-8000-${String(index).padStart(12, "0")}`,
    },
  };
}

describe("the audit of 100,000 guarded objects holds compact results, and reports fit the API server", () => {
  const NAMESPACES = 100;
  let guardedServer: PagingApiServer;
  let guardedKubeconfig: string;

  before(async () => {
    guardedServer = await startPagingApiServer({
      jobs: { count: JOBS, make: (i) => guardedJob(i, NAMESPACES) },
    });
    guardedKubeconfig = await guardedServer.kubeconfig(
      await mkdtemp(join(tmpdir(), "nbw-paging-")),
    );
  });

  after(() => guardedServer.close());

  it(`judges ${JOBS.toLocaleString("en")} br-ent Jobs holding a few hundred bytes per Job, and builds their reports a part at a time`, async () => {
    const loaded = loadKubeConfig(guardedKubeconfig);
    assert.ok(loaded.ok);
    const baseline = retainedHeap();
    const started = Date.now();
    const run = await runAudit(loaded.kubeConfig, exampleCluster, config(), undefined);
    const auditSeconds = (Date.now() - started) / 1000;
    assert.ok(run.ok, run.ok ? "" : run.reason);
    assert.equal(run.objects, JOBS);
    const rules = run.results.results / JOBS;
    assert.ok(rules >= 10, `${rules} results per Job`);
    // What the run holds once judged: before, a full entry per Job and rule (about 4 KiB a Job).
    const held = retainedHeap() - baseline;
    const perJob = held / JOBS;

    // Reports built namespace by namespace, part by part, as the background audit writes them.
    const reportsStarted = Date.now();
    let parts = 0;
    let results = 0;
    let largest = 0;
    let peak = held;
    const seen = new Map<string, string>();
    for (const namespace of run.results.namespaces()) {
      for (const report of namespaceReports(
        namespace,
        run.results.namespaceEntries(namespace),
        new Date(),
      )) {
        parts++;
        results += report.results.length;
        largest = Math.max(largest, Buffer.byteLength(JSON.stringify(report)));
        assert.ok(report.results.length <= REPORT_LIMITS.results);
        for (const result of report.results) {
          const object = `${namespace}/${result.resources[0]?.name}`;
          const part = seen.get(object) ?? report.metadata.name;
          assert.equal(part, report.metadata.name, `${object}: its results in one part`);
          seen.set(object, part);
        }
        if (parts % 100 === 0) peak = Math.max(peak, retainedHeap() - baseline);
      }
    }
    const reportSeconds = (Date.now() - reportsStarted) / 1000;
    assert.equal(results, run.results.results, "every result in a report");
    assert.equal(seen.size, JOBS);
    console.log(
      `# ${JOBS} guarded Jobs, ${run.results.results} results: audit ${auditSeconds.toFixed(1)} s, held +${(held / 2 ** 20).toFixed(1)} MiB (${perJob.toFixed(0)} B a Job); ${parts} reports in ${reportSeconds.toFixed(1)} s, largest ${(largest / 2 ** 10).toFixed(0)} KiB, retained heap at most +${(peak / 2 ** 20).toFixed(1)} MiB while building them`,
    );
    assert.ok(perJob < 600, `${perJob.toFixed(0)} bytes held per Job`);
    assert.ok(largest < 1.5 * 2 ** 20, `a report of ${largest} bytes: etcd refuses 1.5 MiB`);
    assert.ok(peak - held < 32 * 2 ** 20, "building reports holds one part, not the cluster's");
  });
});

describe("PolicyReports are written only when their content changed", () => {
  const entry = (namespace: string, name: string, result: AuditEntry["result"]): AuditEntry =>
    auditEntry(name, result, { namespace });
  const namespaces = ["a", "b", "c", "d", "e"];
  const entries = namespaces.map((ns) => entry(ns, `job-${ns}`, "pass"));

  it("creates, then leaves alone what the API server returns in its own key order", async () => {
    server.writes.length = 0;
    const writes: string[] = [];
    const writer = new PolicyReportWriter(kubeConfig(), {
      onWrite: (op) => writes.push(op),
      pageSize: 2,
    });
    const first = await writer.reconcile(policyReports(entries, new Date("2025-01-01T00:00:00Z")));
    assert.deepEqual(first.ok && first.summary, {
      created: 5,
      updated: 0,
      deleted: 0,
      unchanged: 0,
    });
    for (let run = 1; run <= 3; run++) {
      const again = await writer.reconcile(
        policyReports(entries, new Date(Date.now() + run * 60_000)),
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
    const result = await writer.reconcile(policyReports(changed, new Date()));
    assert.deepEqual(result.ok && result.summary, {
      created: 0,
      updated: 1,
      deleted: 1,
      unchanged: 3,
    });
    assert.deepEqual(server.writes, [
      { verb: "update", namespace: "a", name: REPORT_NAME },
      { verb: "delete", namespace: "e", name: REPORT_NAME },
    ]);
  });

  /** Jobs of namespace `big` with two long results each: about 700 bytes a result. */
  const manyParts = (jobs: number) =>
    Array.from({ length: jobs }, (_, i) =>
      ["backup-job-storage", "backup-job-target-cluster"].map((rule) => ({
        ...entry("big", `job-${String(i).padStart(5, "0")}`, "pass"),
        rule,
        message: `${rule}: ${"said at length ".repeat(20)}`,
      })),
    ).flat();

  it("writes a namespace too large for one report in parts, then nothing, and deletes the parts it no longer needs", async () => {
    server.writes.length = 0;
    server.reports.clear();
    const writer = new PolicyReportWriter(kubeConfig(), { pageSize: 3 });
    // 3,000 Jobs × 2 rules at about 700 bytes a result: one report would be 4 MiB, over the
    // stand-in's 3 MiB request limit as over kube-apiserver's.
    const first = await writer.reconcile(policyReports(manyParts(3000), new Date()));
    assert.ok(first.ok, first.ok ? "" : first.reason);
    assert.deepEqual(first.summary, { created: 6, updated: 0, deleted: 0, unchanged: 0 });
    const stored = [...server.reports.values()] as unknown as PolicyReport[];
    // Sorted: parts are written a few at once, so they arrive in any order.
    assert.deepEqual(stored.map((r) => r.metadata.name).sort(), [
      REPORT_NAME,
      ...[2, 3, 4, 5, 6].map((n) => `${REPORT_NAME}-${n}`),
    ]);
    assert.equal(
      stored.reduce((sum, r) => sum + r.results.length, 0),
      6000,
    );

    const again = await writer.reconcile(
      policyReports(manyParts(3000), new Date(Date.now() + 60_000)),
    );
    assert.deepEqual(again.ok && again.summary, {
      created: 0,
      updated: 0,
      deleted: 0,
      unchanged: 6,
    });

    server.writes.length = 0;
    const shrunk = await writer.reconcile(policyReports(manyParts(1200), new Date()));
    assert.deepEqual(shrunk.ok && shrunk.summary, {
      created: 0,
      updated: 1,
      deleted: 3,
      unchanged: 2,
    });
    // The update first (the new parts are in before the old go), then the deletes in any order.
    const [firstWrite, ...deletes] = server.writes.map((w) => [w.verb, w.name]);
    assert.deepEqual(
      [firstWrite, ...deletes.sort()],
      [["update", `${REPORT_NAME}-3`], ...[4, 5, 6].map((n) => ["delete", `${REPORT_NAME}-${n}`])],
    );
    const left = await writer.reconcile([]);
    assert.deepEqual(left.ok && left.summary, { created: 0, updated: 0, deleted: 3, unchanged: 0 });
    assert.equal(server.reports.size, 0);
  });

  it(`writes ${WRITE_CONCURRENCY} parts at once, never more, and returns once every write has ended`, async () => {
    server.writes.length = 0;
    server.reports.clear();
    let inFlight = 0;
    let most = 0;
    const writer = new PolicyReportWriter(kubeConfig(), {
      onApiCall: (verb) => {
        if (verb !== "create") return;
        inFlight++;
        most = Math.max(most, inFlight);
      },
      onWrite: () => inFlight--,
    });
    // 24 parts of 500 results.
    const result = await writer.reconcile(
      policyReports(manyParts(6000), new Date(), { results: 500, bytes: REPORT_LIMITS.bytes }),
    );
    assert.deepEqual(result.ok && result.summary, {
      created: 24,
      updated: 0,
      deleted: 0,
      unchanged: 0,
    });
    assert.equal(most, WRITE_CONCURRENCY);
    assert.equal(inFlight, 0);
    assert.equal(server.reports.size, 24);
    const left = await writer.reconcile([]);
    assert.deepEqual(left.ok && left.summary, {
      created: 0,
      updated: 0,
      deleted: 24,
      unchanged: 0,
    });
  });

  it("starts no write once the Lease is lost mid-run, and returns after the writes in flight", async () => {
    server.writes.length = 0;
    server.reports.clear();
    let started = 0;
    let ended = 0;
    const writer = new PolicyReportWriter(kubeConfig(), {
      onApiCall: (verb) => {
        if (verb === "create") started++;
      },
      onWrite: () => ended++,
      mayWrite: () => started < 5,
    });
    const result = await writer.reconcile(
      policyReports(manyParts(6000), new Date(), { results: 500, bytes: REPORT_LIMITS.bytes }),
    );
    assert.equal(result.ok, false);
    assert.match(result.ok ? "" : result.reason, /no longer holds the audit Lease/);
    assert.equal(started, 5);
    assert.equal(ended, 5, "no write left in flight");
    assert.equal(server.writes.length, 5);
    server.reports.clear();
  });

  it("writes nothing once this replica may no longer write (lost the audit Lease)", async () => {
    server.writes.length = 0;
    const writer = new PolicyReportWriter(kubeConfig(), { mayWrite: () => false });
    const result = await writer.reconcile(policyReports([entry("a", "job-a", "warn")], new Date()));
    assert.equal(result.ok, false);
    assert.match(result.ok ? "" : result.reason, /no longer holds the audit Lease/);
    assert.deepEqual(server.writes, []);
  });
});
