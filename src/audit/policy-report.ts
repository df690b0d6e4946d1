import { createHash } from "node:crypto";
import type { AuditEntry } from "./audit.js";
import { compareText } from "./audit-results.js";

export const REPORT_NAME = "nebula-br-webhook";
export const POLICY = "nebula-br-webhook";
export const MANAGED_BY = { "app.kubernetes.io/managed-by": "nebula-br-webhook" } as const;
/** Ties together the parts of a namespace's report (`nebula-br-webhook`, `-2`, `-3`, …). */
export const REPORT_SET_LABEL = "nebula-br-webhook/report-set";
const LABELS = { ...MANAGED_BY, [REPORT_SET_LABEL]: REPORT_NAME } as const;

/**
 * Why a namespace's results are split over several reports of at most a fixed size, rather
 * than one report per namespace (the API server refused it with HTTP 413 at 1,000 Jobs × 14
 * rules: its request limit is 3 MiB and etcd's 1.5 MiB) or one per resource (Kyverno 1.10+):
 * per resource, 100,000 guarded objects are 100,000 reports to create, list and compare on
 * every run, and a reader looks in as many places; parts keep the one report name users know
 * (`kubectl get policyreport nebula-br-webhook` is the first part) and a few dozen objects
 * per namespace still fit in it. The cost: results are cut in `kind/name` order, so an object
 * added or removed early in a namespace shifts the later parts, which are rewritten once.
 */
export interface ReportLimits {
  /** Results per report: a `kubectl get` stays readable, a write stays small. */
  readonly results: number;
  /** Bytes of results per report (as JSON), well under etcd's 1.5 MiB per object. */
  readonly bytes: number;
}

export const REPORT_LIMITS: ReportLimits = { results: 1000, bytes: 1024 * 1024 };

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

/** The name of part `part` (1, 2, …) of a namespace's report. */
export function reportName(part: number): string {
  return part === 1 ? REPORT_NAME : `${REPORT_NAME}-${part}`;
}

/** Whether a report of ours with this name is one of the parts (others are left alone). */
export function isReportPart(name: string): boolean {
  return name === REPORT_NAME || new RegExp(`^${REPORT_NAME}-([2-9]|[1-9][0-9]+)$`).test(name);
}

/**
 * One namespace's reports (wgpolicyk8s.io/v1alpha2), from its entries in report order
 * (AuditResults.namespaceEntries, or sortedForReports): a new part starts when the next
 * object's results would pass a limit, so an object's results stay in one report. Built one
 * part at a time: a namespace of any size holds one part in memory.
 */
export function* namespaceReports(
  namespace: string,
  entries: Iterable<AuditEntry>,
  now: Date,
  limits: ReportLimits = REPORT_LIMITS,
): Generator<PolicyReport> {
  const seconds = Math.floor(now.getTime() / 1000);
  let part = 1;
  let report = emptyReport(namespace, part);
  let bytes = 0;
  let object: PolicyReportResult[] = [];
  let objectBytes = 0;
  let objectKey = "";
  const flushObject = function* () {
    if (object.length === 0) return;
    const full =
      report.results.length > 0 &&
      (report.results.length + object.length > limits.results ||
        bytes + objectBytes > limits.bytes);
    if (full) {
      yield report;
      report = emptyReport(namespace, ++part);
      bytes = 0;
    }
    for (const result of object) {
      report.summary[result.result] += 1;
      report.results.push(result);
    }
    bytes += objectBytes;
    object = [];
    objectBytes = 0;
  };
  for (const entry of entries) {
    const key = `${entry.apiVersion}/${entry.kind}/${entry.name}`;
    if (key !== objectKey) {
      yield* flushObject();
      objectKey = key;
    }
    const result = reportResult(entry, seconds);
    object.push(result);
    // Its size as JSON with the comma that joins it: what the report's size is made of.
    objectBytes += Buffer.byteLength(JSON.stringify(result)) + 1;
  }
  yield* flushObject();
  if (report.results.length > 0) yield report;
}

function emptyReport(namespace: string, part: number): PolicyReport {
  return {
    apiVersion: "wgpolicyk8s.io/v1alpha2",
    kind: "PolicyReport",
    metadata: { name: reportName(part), namespace, labels: { ...LABELS } },
    summary: { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 },
    results: [],
  };
}

function reportResult(entry: AuditEntry, seconds: number): PolicyReportResult {
  return {
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
  };
}

/** Entries in the order reports list them: by `kind/name/rule`, an object's results together. */
export function sortedForReports(entries: readonly AuditEntry[]): AuditEntry[] {
  return [...entries].sort(
    (a, b) =>
      compareText(`${a.kind}/${a.name}/`, `${b.kind}/${b.name}/`) || compareText(a.rule, b.rule),
  );
}

/**
 * Every namespace's reports from a list of entries, by namespace: for small audits and tests
 * (the background audit builds them from AuditResults, a namespace at a time).
 */
export function buildReports(
  entries: readonly AuditEntry[],
  now: Date,
  limits: ReportLimits = REPORT_LIMITS,
): Map<string, PolicyReport[]> {
  const byNamespace = new Map<string, AuditEntry[]>();
  for (const entry of entries) {
    const list = byNamespace.get(entry.namespace);
    if (list) list.push(entry);
    else byNamespace.set(entry.namespace, [entry]);
  }
  const reports = new Map<string, PolicyReport[]>();
  for (const namespace of [...byNamespace.keys()].sort(compareText))
    reports.set(namespace, [
      ...namespaceReports(
        namespace,
        sortedForReports(byNamespace.get(namespace) ?? []),
        now,
        limits,
      ),
    ]);
  return reports;
}

/** Every report of a list of entries, namespace by namespace, part by part. */
export function policyReports(
  entries: readonly AuditEntry[],
  now: Date,
  limits: ReportLimits = REPORT_LIMITS,
): PolicyReport[] {
  return [...buildReports(entries, now, limits).values()].flat();
}

/**
 * Whether two reports say the same, whatever the key order (the API server returns keys in
 * its own order) and ignoring what is not content: result timestamps and the metadata the
 * server sets. Unchanged reports are not rewritten.
 */
export function sameContent(a: ReportContent, b: ReportContent): boolean {
  return contentHash(a) === contentHash(b);
}

type ReportContent = Pick<PolicyReport, "summary" | "results"> & {
  metadata?: { labels?: Record<string, string> };
};

/**
 * A digest of what we own in a report: our labels, the summary and the results without their
 * timestamps, keys sorted and undefined fields dropped (as on the wire). The writer keeps this
 * of each existing report instead of the report.
 */
export function contentHash(report: ReportContent): string {
  const labels = report.metadata?.labels ?? {};
  const ours = Object.fromEntries(Object.keys(LABELS).map((key) => [key, labels[key]] as const));
  const hash = createHash("sha256");
  hash.update(canonical(ours));
  hash.update(canonical(report.summary ?? {}));
  for (const { timestamp: _t, ...rest } of report.results ?? []) hash.update(canonical(rest));
  return hash.digest("base64");
}

/** JSON with keys sorted at every level, undefined object fields left out as JSON does. */
function canonical(value: unknown): string {
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? "null" : canonical(v))).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(record[key])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
