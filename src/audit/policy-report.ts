import { isDeepStrictEqual } from "node:util";
import type { AuditEntry } from "./audit.js";

export const REPORT_NAME = "nebula-br-webhook";
export const POLICY = "nebula-br-webhook";
export const MANAGED_BY = { "app.kubernetes.io/managed-by": "nebula-br-webhook" } as const;

export interface PolicyReportResult {
  policy: string;
  rule: string;
  result: "pass" | "fail" | "warn";
  message: string;
  source: string;
  category: string;
  severity: "high" | "medium" | "low";
  scored: boolean;
  timestamp: { seconds: number; nanos: number };
  properties: Record<string, string>;
  resources: { apiVersion: string; kind: string; name: string; namespace: string; uid?: string }[];
}

export interface PolicyReport {
  apiVersion: "wgpolicyk8s.io/v1alpha2";
  kind: "PolicyReport";
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    resourceVersion?: string;
  };
  summary: { pass: number; fail: number; warn: number; error: number; skip: number };
  results: PolicyReportResult[];
}

/** One PolicyReport per namespace (wgpolicyk8s.io/v1alpha2), results in a stable order. */
export function buildReports(entries: readonly AuditEntry[], now: Date): Map<string, PolicyReport> {
  const seconds = Math.floor(now.getTime() / 1000);
  const reports = new Map<string, PolicyReport>();
  const sorted = [...entries].sort((a, b) =>
    `${a.kind}/${a.name}/${a.rule}`.localeCompare(`${b.kind}/${b.name}/${b.rule}`),
  );
  for (const entry of sorted) {
    let report = reports.get(entry.namespace);
    if (!report) {
      report = {
        apiVersion: "wgpolicyk8s.io/v1alpha2",
        kind: "PolicyReport",
        metadata: { name: REPORT_NAME, namespace: entry.namespace, labels: { ...MANAGED_BY } },
        summary: { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 },
        results: [],
      };
      reports.set(entry.namespace, report);
    }
    report.summary[entry.result] += 1;
    report.results.push({
      policy: POLICY,
      rule: entry.rule,
      result: entry.result,
      message: entry.message,
      source: POLICY,
      category: "NebulaGraph backup and restore",
      severity: entry.result === "fail" ? "high" : entry.result === "warn" ? "medium" : "low",
      scored: true,
      timestamp: { seconds, nanos: 0 },
      properties: { mode: entry.mode },
      resources: [
        {
          apiVersion: entry.apiVersion,
          kind: entry.kind,
          name: entry.name,
          namespace: entry.namespace,
          ...(entry.uid ? { uid: entry.uid } : {}),
        },
      ],
    });
  }
  return reports;
}

/**
 * Whether two reports say the same, whatever the key order (the API server returns keys in
 * its own order) and ignoring what is not content: result timestamps and the metadata the
 * server sets. Unchanged reports are not rewritten.
 */
export function sameContent(
  a: Pick<PolicyReport, "summary" | "results">,
  b: Pick<PolicyReport, "summary" | "results">,
): boolean {
  return isDeepStrictEqual(content(a), content(b));
}

/** The part of a report we own, as plain JSON (undefined fields dropped, as on the wire). */
function content(report: Pick<PolicyReport, "summary" | "results">): unknown {
  return JSON.parse(
    JSON.stringify({
      summary: report.summary ?? {},
      results: (report.results ?? []).map(({ timestamp: _t, ...rest }) => rest),
    }),
  );
}
