import fastJsonPatch from "fast-json-patch";
import { copyJson, type KubeObject } from "../kube/objects.js";
import type { Finding, Mutation, PatchOperation, RuleResult, Violation } from "./rule.js";

/** What the webhook answers for one object: the pure outcome of its rule results. */
export interface Decision {
  readonly allowed: boolean;
  /** Enforced violations, as `[rule] path: message` lines. */
  readonly denials: readonly string[];
  /** Violations of rules in warn mode, and mutations a warn-mode rule would have made. */
  readonly warnings: readonly string[];
  /** Rule id → what happened: every verdict, for the API server's audit log. */
  readonly auditAnnotations: Readonly<Record<string, string>>;
  /** Minimal RFC 6902 patch from the enforced mutations (empty when none). */
  readonly patch: readonly PatchOperation[];
  readonly mutated: KubeObject;
}

/** Which findings an endpoint acts on: /mutate completes objects, /validate judges them. */
export type Stage = "mutate" | "validate" | "both";

const line = (ruleId: string, finding: Finding): string =>
  `[${ruleId}] ${finding.path}: ${finding.message}`;

const ANNOTATION_LIMIT = 1000;

export function decide(object: KubeObject, results: readonly RuleResult[], stage: Stage): Decision {
  const denials: string[] = [];
  const warnings: string[] = [];
  const annotations: Record<string, string> = {};
  const mutations: { ruleId: string; change: Mutation }[] = [];
  const note = (ruleId: string, verdict: string, findings: readonly Finding[]) => {
    const said = `${verdict}: ${findings.map((f) => `${f.path}: ${f.message}`).join("; ")}`;
    const text = annotations[ruleId] ? `${annotations[ruleId]}; ${said}` : said;
    annotations[ruleId] =
      text.length > ANNOTATION_LIMIT ? `${text.slice(0, ANNOTATION_LIMIT - 1)}…` : text;
  };

  for (const { rule, mode, findings } of results) {
    const violations = findings.filter((f): f is Violation => f.type === "violation");
    const changes = findings.filter((f): f is Mutation => f.type === "mutation");
    if (stage !== "mutate" && violations.length > 0) {
      const lines = violations.map((v) => line(rule.id, v));
      if (mode === "enforce") denials.push(...lines);
      if (mode === "warn") warnings.push(...lines);
      note(
        rule.id,
        mode === "enforce" ? "deny" : mode === "warn" ? "warn" : "audit-fail",
        violations,
      );
    }
    if (stage !== "validate" && changes.length > 0) {
      if (mode === "enforce")
        mutations.push(...changes.map((change) => ({ ruleId: rule.id, change })));
      if (mode === "warn")
        warnings.push(
          ...changes.map((c) => `${line(rule.id, c)} (not applied: rule in warn mode)`),
        );
      note(rule.id, mode === "enforce" ? "patched" : "would-patch", changes);
    }
  }

  // Copy only when something changes: most requests patch nothing.
  const mutated = mutations.length > 0 ? copyJson(object) : object;
  for (const { ruleId, change } of mutations) {
    try {
      change.apply(mutated);
    } catch (error) {
      // A bug of ours on an odd object: refuse rather than store it half completed. The
      // error's message is not repeated: it may quote the object.
      denials.push(
        `[${ruleId}] ${change.path}: internal error while completing the object (${errorName(error)}); please report it`,
      );
    }
  }
  return {
    allowed: denials.length === 0,
    denials,
    warnings,
    auditAnnotations: annotations,
    patch: mutations.length > 0 ? fastJsonPatch.compare(object, mutated) : [],
    mutated,
  };
}

/** The kind of an error, never its message (which may quote request values). */
export function errorName(error: unknown): string {
  const name = error instanceof Error ? error.name : typeof error;
  return /^[A-Za-z]{1,40}$/.test(name) ? name : "Error";
}
