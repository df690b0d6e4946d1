import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { AuditEntry } from "../../src/audit/audit.js";
import type { ClusterSnapshot } from "../../src/cluster-view/cluster-view.js";
import { StaticClusterView } from "../../src/cluster-view/static-view.js";
import { type Config, parseConfig } from "../../src/config/config.js";
import { parseManifests } from "../../src/kube/manifests.js";
import type { KubeObject } from "../../src/kube/objects.js";
import { type Decision, decide, type Stage } from "../../src/rules/decision.js";
import { evaluateFamily } from "../../src/rules/evaluate.js";
import { familyFor } from "../../src/rules/registry.js";
import type { AdmissionOperation, RuleResult } from "../../src/rules/rule.js";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** Every object in an examples/ file. */
export function exampleObjects(name: string): KubeObject[] {
  const parsed = parseManifests(readFileSync(`${REPO_ROOT}examples/${name}`, "utf8"), name);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.objects.map((o) => o.object);
}

/** The first object of an examples/ file, as a fresh copy a test may edit. */
export function example(name: string): KubeObject {
  const [first] = exampleObjects(name);
  if (!first) throw new Error(`${name} is empty`);
  return structuredClone(first);
}

/** The embedded default cluster view the examples are written against. */
export const exampleCluster = new StaticClusterView(exampleObjects("cluster-state.yaml"));

/** The example cluster, but every Secret lookup fails as when the API server does not answer. */
export const clusterWithUnreadableSecrets: ClusterSnapshot = {
  nebulaCluster: (namespace, name) => exampleCluster.nebulaCluster(namespace, name),
  secret: () => ({ state: "unavailable", reason: "the API server did not answer in time" }),
  nebulaBackup: () => ({ state: "unavailable", reason: "the API server did not answer in time" }),
};

export function config(overrides: Record<string, unknown> = {}): Config {
  const result = parseConfig(overrides);
  if (!result.ok) throw new Error(result.reason);
  return result.config;
}

/**
 * A copy of `base` with the fields at dotted paths set (`undefined` removes the field),
 * creating objects on the way: `withFields(restore, { "spec.br.s3.region": "US" })`.
 */
export function withFields(base: KubeObject, fields: Record<string, unknown>): KubeObject {
  const copy = structuredClone(base) as Record<string, unknown>;
  for (const [path, value] of Object.entries(fields)) {
    const keys = path.split(".");
    const last = keys.pop() as string;
    let target = copy;
    for (const key of keys) {
      if (typeof target[key] !== "object" || target[key] === null) target[key] = {};
      target = target[key] as Record<string, unknown>;
    }
    if (value === undefined) delete target[last];
    else target[last] = value;
  }
  return copy as KubeObject;
}

export interface Verdicts {
  readonly results: RuleResult[];
  readonly decision: Decision;
  /** `rule-id` of every rule with a violation. */
  readonly violated: string[];
  /** `rule-id` of every rule with a mutation. */
  readonly mutated: string[];
  /** All violation messages, as `[rule] path: message`. */
  readonly messages: string[];
}

/** Runs the rules of the object's family as the webhook would, without HTTP. */
export function judge(
  object: KubeObject,
  options: {
    operation?: AdmissionOperation;
    oldObject?: KubeObject;
    cluster?: ClusterSnapshot;
    config?: Config;
    stage?: Stage;
  } = {},
): Verdicts {
  const [group] = (object.apiVersion ?? "").includes("/")
    ? (object.apiVersion ?? "").split("/")
    : [""];
  const family = familyFor(object, group ?? "", object.kind ?? "");
  if (!family) throw new Error(`no rule family guards ${object.kind}`);
  const results = evaluateFamily(
    family,
    {
      object,
      oldObject: options.oldObject,
      operation: options.operation ?? "CREATE",
      namespace: object.metadata?.namespace ?? "default",
      cluster: options.cluster ?? exampleCluster,
      config: options.config ?? config(),
    },
    options.stage ?? "both",
  );
  const decision = decide(object, results, options.stage ?? "both");
  const withType = (type: string) =>
    results.filter((r) => r.findings.some((f) => f.type === type)).map((r) => r.rule.id);
  return {
    results,
    decision,
    violated: withType("violation"),
    mutated: withType("mutation"),
    messages: results.flatMap((r) =>
      r.findings
        .filter((f) => f.type === "violation")
        .map((f) => `[${r.rule.id}] ${f.path}: ${f.message}`),
    ),
  };
}

/** One audit result of a Job named `name`, target-cluster rule, in namespace nebula unless told. */
export function auditEntry(
  name: string,
  result: AuditEntry["result"],
  overrides: Partial<AuditEntry> = {},
): AuditEntry {
  return {
    namespace: "nebula",
    apiVersion: "batch/v1",
    kind: "Job",
    name,
    uid: `uid-${name}`,
    rule: "backup-job-target-cluster",
    mode: "enforce",
    result,
    message: "m",
    ...overrides,
  };
}
