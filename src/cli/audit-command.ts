import { stringify as toYaml } from "yaml";
import type { AuditEntry } from "../audit/audit.js";
import { runAudit } from "../audit/run-audit.js";
import { LiveClusterView } from "../cluster-view/live-view.js";
import { loadConfig } from "../config/config.js";
import { loadKubeConfig } from "../kube/kubeconfig.js";
import { createLogger } from "../log.js";
import { type CiCase, type CiFormat, formatCi } from "./ci-report.js";

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

  const counts = { pass: 0, fail: 0, warn: 0 };
  for (const entry of run.entries) counts[entry.result]++;
  const summary = `${run.objects} object${run.objects === 1 ? "" : "s"} audited${namespace ? ` in namespace ${namespace}` : " in all namespaces"}: ${counts.pass} pass, ${counts.fail} fail, ${counts.warn} warn`;
  if (flags.output === "table") {
    const rows = run.entries.filter((e) => flags.showPass || e.result !== "pass");
    process.stdout.write(formatTable(rows));
    process.stdout.write(`${summary}\n`);
    if (run.missingKinds.length > 0)
      process.stdout.write(`(not installed here: ${run.missingKinds.join(", ")})\n`);
  } else if (flags.output === "junit" || flags.output === "sarif") {
    process.stderr.write(`${summary}\n`);
    process.stdout.write(formatCi(ciCases(run.entries), flags.output, "nebula-br-webhook audit"));
  } else {
    const document = { summary: { objects: run.objects, ...counts }, results: run.entries };
    process.stdout.write(
      flags.output === "json" ? `${JSON.stringify(document, null, 2)}\n` : toYaml(document),
    );
  }
  return counts.fail > 0 ? 1 : 0;
}

/**
 * The CI report of `audit`: one suite per kind, one case per object and rule; a failed rule
 * is a failure whatever its mode (as the exit code says), a warning is reported and passes.
 */
export function ciCases(entries: readonly AuditEntry[]): CiCase[] {
  return entries.map((e) => ({
    suite: e.kind,
    kind: e.kind,
    namespace: e.namespace,
    name: e.name,
    rule: e.rule,
    outcome: e.result,
    verdict: e.result,
    // A pass carries the rule's description as its message: not a finding.
    messages: e.result === "pass" ? [] : [e.message],
  }));
}

export function formatTable(entries: readonly AuditEntry[]): string {
  const header = ["NAMESPACE", "KIND", "NAME", "RULE", "RESULT", "MESSAGE"];
  const rows = entries.map((e) => [
    e.namespace,
    e.kind,
    e.name,
    e.rule,
    e.result.toUpperCase(),
    e.message,
  ]);
  if (rows.length === 0) return "";
  const widths = header
    .slice(0, -1)
    .map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i < widths.length ? cell.padEnd(widths[i] as number) : cell))
      .join("  ");
  return `${[header, ...rows].map(line).join("\n")}\n`;
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
