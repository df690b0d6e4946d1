import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AuditEntry } from "./audit.js";
import { buildReports, type PolicyReport, sameContent } from "./policy-report.js";

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
  assert.ok(built);
  return built;
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
