import type { ClusterSnapshot } from "../cluster-view/cluster-view.js";
import type { Config } from "../config/config.js";
import type { KubeObject } from "../kube/objects.js";
import { evaluateFamily } from "../rules/evaluate.js";
import { familyFor } from "../rules/registry.js";
import type { RuleFamily, RuleResult, SecretRef } from "../rules/rule.js";

/** What a report says of one rule on one existing object. */
export type AuditOutcome = "pass" | "fail" | "warn";

export interface AuditEntry {
  readonly namespace: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string | undefined;
  readonly rule: string;
  readonly mode: RuleResult["mode"];
  readonly result: AuditOutcome;
  readonly message: string;
}

/** An existing object and the family that guards it. */
export interface GuardedObject {
  readonly object: KubeObject;
  readonly family: RuleFamily;
  readonly namespace: string;
}

/** Splits `apps.nebula-graph.io/v1alpha1` into its group. */
export function groupOf(apiVersion: string | undefined): string {
  const slash = (apiVersion ?? "").indexOf("/");
  return slash < 0 ? "" : (apiVersion ?? "").slice(0, slash);
}

/** The objects the rules guard, with their family; others and exempt namespaces are left out. */
export function guarded(objects: readonly KubeObject[], config: Config): GuardedObject[] {
  const out: GuardedObject[] = [];
  for (const object of objects) {
    const namespace = object.metadata?.namespace ?? "default";
    if (config.exemptNamespaces.includes(namespace)) continue;
    const family = familyFor(object, groupOf(object.apiVersion), object.kind ?? "");
    if (family) out.push({ object, family, namespace });
  }
  return out;
}

export function secretsFor(objects: readonly GuardedObject[]): SecretRef[] {
  const seen = new Map<string, SecretRef>();
  for (const { object, family, namespace } of objects) {
    for (const ref of family.secretsNeeded(object, namespace, "CREATE", undefined))
      seen.set(`${ref.namespace}/${ref.name}`, ref);
  }
  return [...seen.values()];
}

/** What one rule says of an object in a report: its outcome and the message shown for it. */
export function judged(result: RuleResult): { result: AuditOutcome; message: string } {
  const { rule, mode, findings } = result;
  const violations = findings.filter((f) => f.type === "violation");
  const mutations = findings.filter((f) => f.type === "mutation");
  const outcome: AuditOutcome =
    violations.length > 0
      ? mode === "warn"
        ? "warn"
        : "fail"
      : mutations.length > 0
        ? "warn"
        : "pass";
  const message =
    violations.length > 0
      ? violations.map((f) => `${f.path}: ${f.message}`).join("; ")
      : mutations.length > 0
        ? `not yet applied: ${mutations.map((f) => `${f.path}: ${f.message}`).join("; ")}`
        : rule.description;
  return { result: outcome, message };
}

/**
 * The rules' results on an existing object, as if it were created now. A violation is `fail`
 * (whatever blocks or records it), or `warn` for rules in warn mode; a mutation the object
 * still lacks is `warn`; a rule with nothing to say is `pass`.
 */
export function evaluateObject(
  item: GuardedObject,
  cluster: ClusterSnapshot,
  config: Config,
): RuleResult[] {
  const { object, family, namespace } = item;
  return evaluateFamily(family, {
    object,
    oldObject: undefined,
    operation: "CREATE",
    namespace,
    cluster,
    config,
  });
}

/** Judges an existing object with the admission rules: one entry per rule (see evaluateObject). */
export function auditObject(
  item: GuardedObject,
  cluster: ClusterSnapshot,
  config: Config,
): AuditEntry[] {
  const { object, namespace } = item;
  return evaluateObject(item, cluster, config).map((ruleResult) => ({
    namespace,
    apiVersion: object.apiVersion ?? "",
    kind: object.kind ?? "",
    name: object.metadata?.name ?? "",
    uid: (object.metadata as { uid?: string } | undefined)?.uid,
    rule: ruleResult.rule.id,
    mode: ruleResult.mode,
    ...judged(ruleResult),
  }));
}
