import { stringify as toYaml } from "yaml";
import type { AuditEntry } from "../audit/audit.js";
import { runAudit } from "../audit/run-audit.js";
import { LiveClusterView } from "../cluster-view/live-view.js";
import { loadConfig } from "../config/config.js";
import { loadKubeConfig } from "../kube/kubeconfig.js";
import { isDns1123Label } from "../kube/names.js";
import { createLogger } from "../log.js";
import { type CiCase, type CiFormat, junitChunks, sarifChunks } from "./ci-report.js";

export interface AuditFlags {
  readonly kubeconfig?: string;
  readonly namespace?: string;
  readonly allNamespaces?: boolean;
  readonly output: "table" | "json" | "yaml" | CiFormat;
  readonly config?: string;
  readonly showPass?: boolean;
}

/** `audit`: the background audit on demand, for a person or a pipeline. Exit 1 on any fail. */
export async function auditCommand(
  flags: AuditFlags,
  fail: (reason: string) => never,
): Promise<number> {
  const loaded = await loadConfig(flags.config);
  if (!loaded.ok) fail(loaded.reason);
  const kube = loadKubeConfig(flags.kubeconfig);
  if (!kube.ok) fail(kube.reason);
  const kubeConfig = kube.kubeConfig;
  const namespace = flags.allNamespaces
    ? undefined
    : (flags.namespace ??
      kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ??
      "default");
  if (namespace !== undefined && !isDns1123Label(namespace))
    fail(
      "--namespace must name a namespace: a DNS-1123 label (lowercase letters, digits and '-', at most 63)",
    );
  const view = new LiveClusterView({
    kubeConfig,
    logger: createLogger("silent"),
    secretTimeoutMs: 10_000,
  });
  try {
    await withTimeout(view.start(), 30_000, "reading NebulaClusters timed out");
  } catch (error) {
    await view.stop();
    fail(`cannot read NebulaClusters: ${(error as Error).message}`);
  }
  const run = await runAudit(kubeConfig, view, loaded.config, namespace);
  await view.stop();
  if (!run.ok) fail(run.reason);

  const { results } = run;
  const counts = results.counts;
  const summary = `${run.objects} object${run.objects === 1 ? "" : "s"} audited${namespace ? ` in namespace ${namespace}` : " in all namespaces"}: ${counts.pass} pass, ${counts.fail} fail, ${counts.warn} warn`;
  // Every output is written a piece at a time from the compact results: at 100,000 objects
  // the JSON is 480 MiB, near V8's longest string, and was held whole three times over.
  if (flags.output === "table") {
    const rows = () => filter(results.entries(), (e) => flags.showPass || e.result !== "pass");
    await writeChunks(tableChunks(rows));
    process.stdout.write(`${summary}\n`);
    if (run.missingKinds.length > 0)
      process.stdout.write(`(not installed here: ${run.missingKinds.join(", ")})\n`);
  } else if (flags.output === "junit" || flags.output === "sarif") {
    process.stderr.write(`${summary}\n`);
    const cases = () => map(results.entries(), ciCase);
    await writeChunks(
      flags.output === "junit"
        ? junitChunks(cases, "nebula-br-webhook audit")
        : sarifChunks(cases()),
    );
  } else {
    const head = { objects: run.objects, ...counts };
    await writeChunks(
      flags.output === "json"
        ? jsonChunks(head, results.entries())
        : yamlChunks(head, results.entries()),
    );
  }
  return counts.fail > 0 ? 1 : 0;
}

type Summary = { objects: number; pass: number; fail: number; warn: number };

/**
 * `{summary, results}` as `JSON.stringify(document, null, 2)` writes it, an entry at a time:
 * the summary first, as before, so a reader finds it in the first bytes.
 */
export function* jsonChunks(summary: Summary, entries: Iterable<AuditEntry>): Generator<string> {
  const head = JSON.stringify({ summary }, null, 2).replace(/\n\}$/, "");
  let first = true;
  for (const entry of entries) {
    // JSON strings hold no raw newline: indenting every line nests the entry in place.
    const body = `    ${JSON.stringify(entry, null, 2).replace(/\n/g, "\n    ")}`;
    yield first ? `${head},\n  "results": [\n${body}` : `,\n${body}`;
    first = false;
  }
  yield first ? `${head},\n  "results": []\n}\n` : "\n  ]\n}\n";
}

/** The same document in YAML, as the yaml package writes it whole, an entry at a time. */
export function* yamlChunks(summary: Summary, entries: Iterable<AuditEntry>): Generator<string> {
  let first = true;
  for (const entry of entries) {
    // Written inside `results:` so that it is indented, and long lines folded, as in place.
    const text = toYaml({ results: [entry] });
    yield first ? toYaml({ summary }) + text : text.slice(text.indexOf("\n") + 1);
    first = false;
  }
  if (first) yield toYaml({ summary, results: [] });
}

/**
 * The CI report of `audit`: one suite per kind, one case per object and rule; a failed rule
 * is a failure whatever its mode (as the exit code says), a warning is reported and passes.
 */
export function ciCases(entries: readonly AuditEntry[]): CiCase[] {
  return entries.map(ciCase);
}

function ciCase(e: AuditEntry): CiCase {
  return {
    suite: e.kind,
    kind: e.kind,
    namespace: e.namespace,
    name: e.name,
    rule: e.rule,
    outcome: e.result,
    verdict: e.result,
    // A pass carries the rule's description as its message: not a finding.
    messages: e.result === "pass" ? [] : [e.message],
  };
}

export function formatTable(entries: readonly AuditEntry[]): string {
  return [...tableChunks(() => entries)].join("");
}

const HEADER = ["NAMESPACE", "KIND", "NAME", "RULE", "RESULT", "MESSAGE"] as const;

const row = (e: AuditEntry): string[] => [
  e.namespace,
  e.kind,
  e.name,
  e.rule,
  e.result.toUpperCase(),
  e.message,
];

/** The table a line at a time: one pass over the entries for the column widths, one to write. */
export function* tableChunks(entries: () => Iterable<AuditEntry>): Generator<string> {
  const widths = HEADER.slice(0, -1).map((h) => h.length);
  let rows = 0;
  for (const entry of entries()) {
    rows++;
    row(entry).forEach((cell, i) => {
      if (i < widths.length) widths[i] = Math.max(widths[i] as number, cell.length);
    });
  }
  if (rows === 0) return;
  const line = (cells: readonly string[]) =>
    `${cells
      .map((cell, i) => (i < widths.length ? cell.padEnd(widths[i] as number) : cell))
      .join("  ")}\n`;
  yield line(HEADER);
  for (const entry of entries()) yield line(row(entry));
}

function* filter<T>(items: Iterable<T>, keep: (item: T) => boolean): Generator<T> {
  for (const item of items) if (keep(item)) yield item;
}

function* map<T, U>(items: Iterable<T>, f: (item: T) => U): Generator<U> {
  for (const item of items) yield f(item);
}

/**
 * Writes to stdout in pieces of about 64 KiB, waiting when it asks to (a pipe to a slow
 * reader), so that neither the output nor its buffered copy is ever held whole.
 */
async function writeChunks(chunks: Iterable<string>): Promise<void> {
  let buffer = "";
  const flush = async () => {
    if (buffer.length === 0) return;
    const ok = process.stdout.write(buffer);
    buffer = "";
    if (!ok) await new Promise((resolve) => process.stdout.once("drain", resolve));
  };
  for (const chunk of chunks) {
    buffer += chunk;
    if (buffer.length >= 65_536) await flush();
  }
  await flush();
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
