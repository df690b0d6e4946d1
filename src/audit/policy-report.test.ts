import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AuditEntry } from "./audit.js";
import {
  buildReports,
  isReportPart,
  type PolicyReport,
  REPORT_LIMITS,
  REPORT_NAME,
  REPORT_SET_LABEL,
  reportName,
  sameContent,
} from "./policy-report.js";

const entry = (name: string, rule: string, result: AuditEntry["result"]): AuditEntry => ({
  namespace: "nebula",
  apiVersion: "batch/v1",
  kind: "Job",
  name,
  uid: `uid-${name}`,
  rule,
  mode: "enforce",
  result,
  message: `${rule} on ${name}`,
});

const entries = [
  entry("backup-a", "backup-job-target-cluster", "pass"),
  entry("backup-b", "backup-job-target-cluster", "fail"),
];

function report(at: string, list = entries): PolicyReport {
  const built = buildReports(list, new Date(at)).get("nebula");
  assert.equal(built?.length, 1, "two results fit in one report");
  return built[0] as PolicyReport;
}

/** A report as the API server returns it: keys sorted (Go maps), server metadata added. */
function asServerReturns(value: PolicyReport): PolicyReport {
  const sortKeys = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sortKeys)
      : v && typeof v === "object"
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
          )
        : v;
  const sorted = sortKeys(value) as PolicyReport;
  return {
    ...sorted,
    metadata: {
      ...sorted.metadata,
      resourceVersion: "4711",
      ...({ uid: "0c1d", generation: 3, creationTimestamp: "2025-01-01T00:00:00Z" } as object),
    },
  };
}

describe("whether a PolicyReport needs writing", () => {
  it("finds a report unchanged though the API server returns its keys in another order", () => {
    const stored = asServerReturns(report("2025-01-01T00:00:00Z"));
    const wanted = report("2025-01-01T00:01:00Z");
    assert.notEqual(
      JSON.stringify(stored.summary),
      JSON.stringify(wanted.summary),
      "the old comparison: every run looked like a change",
    );
    assert.equal(sameContent(stored, wanted), true);
  });

  it("ignores result timestamps and the metadata the server sets", () => {
    const stored = asServerReturns(report("2020-06-01T00:00:00Z"));
    assert.equal(sameContent(stored, report("2025-01-01T00:00:00Z")), true);
  });

  it("sees a changed result, message, or a result more or less", () => {
    const stored = asServerReturns(report("2025-01-01T00:00:00Z"));
    const [a, b] = entries as [AuditEntry, AuditEntry];
    const changes: Record<string, AuditEntry[]> = {
      "result fail → warn": [a, { ...b, result: "warn" }],
      "message reworded": [a, { ...b, message: "reworded" }],
      "object gone": [a],
      "object added": [a, b, entry("backup-c", "backup-job-target-cluster", "pass")],
      "uid changed (object recreated)": [a, { ...b, uid: "uid-new" }],
    };
    for (const [change, list] of Object.entries(changes))
      assert.equal(sameContent(stored, report("2025-01-01T00:00:00Z", list)), false, change);
  });

  it("treats a field left undefined like a field left out, as JSON does", () => {
    const wanted = report("2025-01-01T00:00:00Z");
    const withUndefined = structuredClone(wanted);
    (withUndefined.results[0] as unknown as Record<string, unknown>).extra = undefined;
    assert.equal(sameContent(asServerReturns(wanted), withUndefined), true);
  });
});

describe("a namespace's report in parts", () => {
  const RULES = ["backup-job-meta-address", "backup-job-storage", "backup-job-target-cluster"];
  /** `count` Jobs, each with a result per rule; every 7th fails its last rule. */
  const jobs = (count: number, message = (name: string) => `on ${name}`): AuditEntry[] =>
    Array.from({ length: count }, (_, i) =>
      RULES.map((rule, r) => ({
        ...entry(
          `job-${String(i).padStart(4, "0")}`,
          rule,
          i % 7 === 0 && r === 2 ? "fail" : "pass",
        ),
        message: message(`job-${i}`),
      })),
    ).flat();

  it("keeps a namespace whose results fit in one report named as before", () => {
    const reports = buildReports(jobs(10), new Date()).get("nebula") ?? [];
    assert.deepEqual(
      reports.map((r) => r.metadata.name),
      [REPORT_NAME],
    );
    assert.equal(reports[0]?.results.length, 30);
  });

  it("splits one over parts nebula-br-webhook, -2, -3 … of at most the result limit, an object's results together", () => {
    const limits = { results: 10, bytes: REPORT_LIMITS.bytes };
    const reports = buildReports(jobs(10), new Date(), limits).get("nebula") ?? [];
    // 3 results per Job, at most 10 per report: 3 Jobs (9 results) per part.
    assert.deepEqual(
      reports.map((r) => [r.metadata.name, r.results.length]),
      [
        [REPORT_NAME, 9],
        [`${REPORT_NAME}-2`, 9],
        [`${REPORT_NAME}-3`, 9],
        [`${REPORT_NAME}-4`, 3],
      ],
    );
    for (const report of reports) {
      assert.deepEqual(report.metadata.labels, {
        "app.kubernetes.io/managed-by": "nebula-br-webhook",
        [REPORT_SET_LABEL]: REPORT_NAME,
      });
      const names = new Set(report.results.map((r) => r.resources[0]?.name));
      assert.equal(report.results.length, names.size * RULES.length, "whole objects only");
      const counted = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
      for (const result of report.results) counted[result.result]++;
      assert.deepEqual(report.summary, counted, "a summary of its own results");
    }
    // The parts in order are the one report's results, cut.
    const whole = buildReports(jobs(10), new Date()).get("nebula")?.[0];
    assert.deepEqual(
      reports.flatMap((r) => r.results),
      whole?.results,
    );
  });

  it("starts a new part before its JSON passes the byte limit, whatever the count", () => {
    const long = (name: string) => `${name}: ${"a long message ".repeat(60)}`;
    const limits = { results: 1000, bytes: 16 * 1024 };
    const reports = buildReports(jobs(40, long), new Date(), limits).get("nebula") ?? [];
    assert.ok(reports.length >= 6, `${reports.length} parts`);
    for (const report of reports)
      assert.ok(
        Buffer.byteLength(JSON.stringify(report.results)) <= limits.bytes,
        `${report.metadata.name}: ${Buffer.byteLength(JSON.stringify(report.results))} bytes`,
      );
  });

  it("keeps every part of 1,000 Jobs × 14 rules under the API server's 3 MiB and etcd's 1.5 MiB", () => {
    const many: AuditEntry[] = [];
    for (let i = 0; i < 1000; i++)
      for (let r = 0; r < 14; r++)
        many.push({
          ...entry(`backup-${i}`, `backup-job-rule-${r}`, "pass"),
          message: "every call names a cluster that exists and has spec.enableBR: true",
          uid: "0a6d5f0e-9d7c-4b7e-8f5e-3c2f1b0a9d8c",
        });
    const reports = buildReports(many, new Date()).get("nebula") ?? [];
    assert.equal(reports.length, 15, "at most 1,000 results each: 71 Jobs of 14");
    for (const report of reports) {
      assert.ok(report.results.length <= REPORT_LIMITS.results);
      assert.ok(Buffer.byteLength(JSON.stringify(report)) < 1.5 * 2 ** 20);
    }
  });

  it("recognises its parts by name, and no other report", () => {
    assert.deepEqual([1, 2, 10, 123].map(reportName), [
      REPORT_NAME,
      `${REPORT_NAME}-2`,
      `${REPORT_NAME}-10`,
      `${REPORT_NAME}-123`,
    ]);
    for (const name of [REPORT_NAME, `${REPORT_NAME}-2`, `${REPORT_NAME}-10`])
      assert.equal(isReportPart(name), true, name);
    for (const name of [`${REPORT_NAME}-1`, `${REPORT_NAME}-02`, `${REPORT_NAME}-x`, "other"])
      assert.equal(isReportPart(name), false, name);
  });

  it("rewrites a report that lacks the label tying the parts together (written by an older version)", () => {
    const wanted = report("2025-01-01T00:00:00Z");
    const older = structuredClone(wanted);
    delete older.metadata.labels[REPORT_SET_LABEL];
    assert.equal(sameContent(asServerReturns(older), wanted), false);
  });
});
