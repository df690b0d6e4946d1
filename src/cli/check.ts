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
import type { RuleResult } from "../rules/rule.js";

export interface CheckFlags {
  /** Files, directories, and `-` for standard input. */
  readonly filename: readonly string[];
  readonly clusterState?: string;
  readonly kubeconfig?: string;
  readonly config?: string;
  readonly output?: "yaml" | "json";
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
    for (const { source, object } of manifests.objects) {
      try {
        results.push(await checkObject(source, object, view, loaded.config));
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
  if (flags.output) {
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

/** One object's offline verdicts, as `check` prints them. */
export interface CheckedObject {
  readonly source: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly guarded: boolean;
  readonly denied: boolean;
  readonly lines: readonly string[];
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
    return { ...base, guarded: false, denied: false, lines: [], mutated: object };
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
  const mutation = decide(object, await run(object), "mutate");
  const validation = decide(mutation.mutated, await run(mutation.mutated), "validate");
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
  return { ...base, guarded: true, denied: !validation.allowed, lines, mutated: mutation.mutated };
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
