import { chooseView } from "../cluster-view/choose-view.js";
import type { ClusterView } from "../cluster-view/cluster-view.js";
import { LiveClusterView } from "../cluster-view/live-view.js";
import { type Config, loadConfig } from "../config/config.js";
import { loadKubeConfig } from "../kube/kubeconfig.js";
import { readManifests, stringifyForKubectl } from "../kube/manifests.js";
import { groupKind, type KubeObject, objectName } from "../kube/objects.js";
import { createLogger } from "../log.js";
import { EMBEDDED_CLUSTER_STATE } from "../paths.js";
import { decide } from "../rules/decision.js";
import { evaluateFamily } from "../rules/evaluate.js";
import { familyFor } from "../rules/registry.js";
import type { RuleMode, RuleResult } from "../rules/rule.js";
import { type CiCase, type CiFormat, type CiOutcome, formatCi } from "./ci-report.js";

export interface CheckFlags {
  /** Files, directories, and `-` for standard input. */
  readonly filename: readonly string[];
  readonly clusterState?: string;
  readonly kubeconfig?: string;
  readonly config?: string;
  /** yaml, json: the mutated objects; junit, sarif: a report for CI. */
  readonly output?: "yaml" | "json" | CiFormat;
}

/**
 * `check`: admits manifests offline and prints the verdicts. Returns 1 when anything is
 * denied, else 0; unreadable input goes to `fail` (exit 2) with the reason.
 */
export async function checkCommand(
  flags: CheckFlags,
  fail: (reason: string) => never,
): Promise<number> {
  const loaded = await loadConfig(flags.config);
  if (!loaded.ok) fail(loaded.reason);
  const manifests = await readManifests(flags.filename);
  if (!manifests.ok) fail(manifests.reason);
  const view = await checkView(flags, fail);
  const results: CheckedObject[] = [];
  try {
    for (const { source, object, line } of manifests.objects) {
      try {
        results.push({ ...(await checkObject(source, object, view, loaded.config)), line });
      } catch (error) {
        fail(
          `${source}: cannot judge ${object.kind} ${objectName(object)}: ${(error as Error).message}`,
        );
      }
    }
  } finally {
    await view.stop();
  }
  const report = formatChecked(results);
  if (flags.output === "junit" || flags.output === "sarif") {
    process.stderr.write(report);
    process.stdout.write(formatCi(ciCases(results), flags.output, "nebula-br-webhook check"));
  } else if (flags.output) {
    process.stderr.write(report);
    process.stdout.write(formatObjects(results, flags.output));
  } else {
    process.stdout.write(report);
  }
  return results.some((r) => r.denied) ? 1 : 0;
}

/**
 * The cluster the verdicts are about: `--cluster-state`, a live cluster through
 * `--kubeconfig`, or else the embedded example state, with a warning that says so.
 */
async function checkView(flags: CheckFlags, fail: (reason: string) => never): Promise<ClusterView> {
  if (flags.kubeconfig !== undefined) {
    const kube = loadKubeConfig(flags.kubeconfig);
    if (!kube.ok) fail(kube.reason);
    let view: LiveClusterView;
    try {
      view = new LiveClusterView({
        kubeConfig: kube.kubeConfig,
        logger: createLogger("silent"),
        secretTimeoutMs: 10_000,
      });
    } catch (error) {
      fail(`cannot use ${flags.kubeconfig}: ${(error as Error).message}`);
    }
    try {
      await withTimeout(view.start(), 30_000, "reading NebulaClusters timed out");
    } catch (error) {
      await view.stop();
      fail(`cannot read NebulaClusters through ${flags.kubeconfig}: ${(error as Error).message}`);
    }
    return view;
  }
  if (flags.clusterState === undefined) {
    process.stderr.write(
      `nebula-br-webhook: warning: the verdicts use the example cluster state (${EMBEDDED_CLUSTER_STATE}), not your cluster; give --cluster-state FILE (your NebulaClusters and Secrets) or --kubeconfig FILE\n`,
    );
  }
  const chosen = await chooseView({ clusterState: flags.clusterState }, createLogger("warn"));
  if (!chosen.ok) fail(chosen.reason);
  return chosen.view;
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** What one rule did to one object in `check`: the unit of the CI reports. */
export interface RuleVerdict {
  readonly rule: string;
  readonly mode: RuleMode;
  /** deny (enforced violation), warn, audit (recorded only), patch (completed), pass. */
  readonly verdict: "deny" | "warn" | "audit" | "patch" | "pass";
  /** `path: message` of each finding, as the rule wrote it. */
  readonly messages: readonly string[];
}

/** One object's offline verdicts, as `check` prints them. */
export interface CheckedObject {
  readonly source: string;
  /** The line its document starts on in `source`, when known. */
  readonly line?: number;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly guarded: boolean;
  readonly denied: boolean;
  readonly lines: readonly string[];
  /** Every rule that ran, in the family's order. */
  readonly verdicts: readonly RuleVerdict[];
  readonly mutated: KubeObject;
}

/**
 * Admits one object offline as the API server would: /mutate first, then /validate on the
 * mutated object, both as a CREATE.
 */
export async function checkObject(
  source: string,
  object: KubeObject,
  view: ClusterView,
  config: Config,
): Promise<CheckedObject> {
  const [group, version] = splitApiVersion(object.apiVersion);
  const kind = object.kind ?? "";
  const namespace = object.metadata?.namespace ?? "default";
  const base = {
    source,
    kind: groupKind(group, kind).replace(/^\//, ""),
    namespace,
    name: objectName(object),
  };
  const family = familyFor(object, group, kind);
  if (!family || version === undefined || config.exemptNamespaces.includes(namespace)) {
    return { ...base, guarded: false, denied: false, lines: [], verdicts: [], mutated: object };
  }
  const run = async (target: KubeObject): Promise<RuleResult[]> => {
    const cluster = await view.snapshot(
      family.secretsNeeded(target, namespace, "CREATE", undefined),
      AbortSignal.timeout(10_000),
    );
    return evaluateFamily(family, {
      object: target,
      oldObject: undefined,
      operation: "CREATE",
      namespace,
      cluster,
      config,
    });
  };
  const mutationResults = await run(object);
  const mutation = decide(object, mutationResults, "mutate");
  const validationResults = await run(mutation.mutated);
  const validation = decide(mutation.mutated, validationResults, "validate");
  const lines = [
    ...validation.denials.map((l) => `DENY  ${l}`),
    ...validation.warnings.map((l) => `WARN  ${l}`),
    ...mutation.warnings.map((l) => `WARN  ${l}`),
    ...Object.entries(mutation.auditAnnotations)
      .filter(([, v]) => v.startsWith("patched"))
      .map(([id, v]) => `PATCH [${id}] ${v.replace(/^patched: /, "")}`),
    ...Object.entries(validation.auditAnnotations)
      .filter(([, v]) => v.startsWith("audit-fail"))
      .map(([id, v]) => `AUDIT [${id}] ${v.replace(/^audit-fail: /, "")}`),
  ];
  return {
    ...base,
    guarded: true,
    denied: !validation.allowed,
    lines,
    verdicts: ruleVerdicts(mutationResults, validationResults),
    mutated: mutation.mutated,
  };
}

const VERDICT_WEIGHT: Record<RuleVerdict["verdict"], number> = {
  pass: 0,
  patch: 1,
  audit: 2,
  warn: 3,
  deny: 4,
};

/**
 * Per rule, what the two stages did, as the API server would act on it: /validate's
 * violations (deny, warn or audit by mode) and /mutate's completions (patch; warn for a
 * rule in warn mode, which does not apply them). A fail-open rule reports twice (what it
 * enforces, what it only warns about): its verdicts merge, the stronger one wins.
 */
export function ruleVerdicts(
  mutation: readonly RuleResult[],
  validation: readonly RuleResult[],
): RuleVerdict[] {
  const byRule = new Map<
    string,
    { mode: RuleMode; verdict: RuleVerdict["verdict"]; messages: string[] }
  >();
  const add = (result: RuleResult, verdict: RuleVerdict["verdict"], messages: string[]) => {
    const entry = byRule.get(result.rule.id) ?? {
      mode: result.mode,
      verdict: "pass",
      messages: [],
    };
    if (VERDICT_WEIGHT[verdict] > VERDICT_WEIGHT[entry.verdict]) {
      entry.verdict = verdict;
      entry.mode = result.mode;
    }
    entry.messages.push(...messages);
    byRule.set(result.rule.id, entry);
  };
  for (const result of validation) {
    const violations = result.findings.filter((f) => f.type === "violation");
    const said = violations.map((f) => `${f.path}: ${f.message}`);
    if (violations.length === 0 || result.mode === "off") add(result, "pass", []);
    else add(result, result.mode === "enforce" ? "deny" : result.mode, said);
  }
  for (const result of mutation) {
    const changes = result.findings.filter((f) => f.type === "mutation");
    if (changes.length === 0 || (result.mode !== "enforce" && result.mode !== "warn")) continue;
    const said = changes.map(
      (f) =>
        `${f.path}: ${f.message}${result.mode === "warn" ? " (not applied: rule in warn mode)" : ""}`,
    );
    add(result, result.mode === "enforce" ? "patch" : "warn", said);
  }
  return [...byRule].map(([rule, { mode, verdict, messages }]) => ({
    rule,
    mode,
    verdict,
    messages,
  }));
}

const OUTCOME_OF: Record<RuleVerdict["verdict"], CiOutcome> = {
  deny: "fail",
  warn: "warn",
  audit: "note",
  patch: "pass",
  pass: "pass",
};

/** The CI report of `check`: one case per object and rule; objects no rule guards, skipped. */
export function ciCases(results: readonly CheckedObject[]): CiCase[] {
  return results.flatMap((r): CiCase[] => {
    const where = {
      suite: r.source,
      // Standard input has no file to point at.
      ...(r.source === "stdin" ? {} : { file: r.source }),
      ...(r.line ? { line: r.line } : {}),
      kind: r.kind,
      namespace: r.namespace,
      name: r.name,
    };
    if (!r.guarded)
      return [
        {
          ...where,
          outcome: "skipped",
          verdict: "not guarded",
          messages: ["not guarded, allowed untouched"],
        },
      ];
    return r.verdicts.map((v) => ({
      ...where,
      rule: v.rule,
      outcome: OUTCOME_OF[v.verdict],
      verdict: v.verdict,
      messages: v.messages,
    }));
  });
}

function splitApiVersion(apiVersion: string | undefined): [string, string | undefined] {
  if (!apiVersion) return ["", undefined];
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? ["", apiVersion] : [apiVersion.slice(0, slash), apiVersion.slice(slash + 1)];
}

export function formatChecked(results: readonly CheckedObject[]): string {
  const out: string[] = [];
  for (const r of results) {
    const title = `${r.kind} ${r.namespace}/${r.name} (${r.source})`;
    if (!r.guarded) {
      out.push(`${title}: not guarded, allowed untouched`);
      continue;
    }
    out.push(`${title}: ${r.denied ? "DENIED" : "ALLOWED"}`);
    for (const l of r.lines) out.push(`  ${l}`);
  }
  const denied = results.filter((r) => r.denied).length;
  const guarded = results.filter((r) => r.guarded).length;
  out.push(
    `${results.length} object${results.length === 1 ? "" : "s"}, ${guarded} guarded, ${denied} denied`,
  );
  return `${out.join("\n")}\n`;
}

export function formatObjects(results: readonly CheckedObject[], output: "yaml" | "json"): string {
  const objects = results.map((r) => r.mutated);
  if (output === "json")
    return `${JSON.stringify(objects.length === 1 ? objects[0] : { apiVersion: "v1", kind: "List", items: objects }, null, 2)}\n`;
  return objects.map((o) => stringifyForKubectl(o)).join("---\n");
}
