import { stringify as toYaml } from "yaml";
import type { ClusterView } from "../cluster-view/cluster-view.js";
import type { Config } from "../config/config.js";
import { groupKind, type KubeObject, objectName } from "../kube/objects.js";
import { decide } from "../rules/decision.js";
import { evaluateFamily } from "../rules/evaluate.js";
import { familyFor } from "../rules/registry.js";
import type { RuleResult } from "../rules/rule.js";

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
  return objects.map((o) => toYaml(o)).join("---\n");
}
