import { isDeepStrictEqual } from "node:util";
import type { Config } from "../config/config.js";
import { errorName, type Stage } from "./decision.js";
import {
  type Finding,
  type Rule,
  type RuleContext,
  type RuleFamily,
  type RuleResult,
  violation,
} from "./rule.js";

/**
 * Runs a family's rules in their configured modes: at /mutate only the rules that complete
 * objects, at /validate only the rules that judge them (each stage acts on nothing else), in
 * audits all of them. A rule that throws, or returns a finding of a kind it does not declare,
 * is a bug of ours; it is reported as a violation of that rule (fail closed) instead of
 * failing the request.
 */
export function evaluateFamily(
  family: RuleFamily,
  ctx: RuleContext,
  stage: Stage = "both",
): RuleResult[] {
  const results: RuleResult[] = [];
  for (const rule of family.rules) {
    if (stage === "mutate" && !rule.completes) continue;
    if (stage === "validate" && rule.judges === false) continue;
    const mode = modeOf(ctx.config, rule.id, rule.defaultMode);
    if (mode === "off" || unchangedOnUpdate(rule, ctx)) continue;
    try {
      const findings = rule.evaluate(ctx);
      if (!declares(rule, findings))
        throw new TypeError("a rule returned a finding of a kind it does not declare");
      if (mode === "enforce" && ctx.config.failOpen.includes(rule.id)) {
        results.push(...failOpen(rule, findings));
      } else {
        results.push({ rule, mode, findings });
      }
    } catch (error) {
      results.push({
        rule,
        mode,
        findings: [
          violation(
            "(rule)",
            `internal error while checking (${errorName(error)}); please report it`,
          ),
        ],
      });
    }
  }
  return results;
}

/** Mutations only from completing rules, violations only from judging ones. */
function declares(rule: Rule, findings: readonly Finding[]): boolean {
  for (const finding of findings) {
    if (finding.type === "mutation" && !rule.completes) return false;
    if (finding.type === "violation" && rule.judges === false) return false;
  }
  return true;
}

/**
 * A fail-open rule lets through what it could not verify, with a warning; what it could
 * verify it still enforces.
 */
function failOpen(rule: Rule, findings: readonly Finding[]): RuleResult[] {
  const unverified = findings.filter((f) => f.type === "violation" && f.unverified);
  if (unverified.length === 0) return [{ rule, mode: "enforce", findings }];
  return [
    { rule, mode: "enforce", findings: findings.filter((f) => !unverified.includes(f)) },
    {
      rule,
      mode: "warn",
      findings: unverified.map((f) => ({
        ...f,
        message: `${f.message} (allowed: the rule fails open)`,
      })),
    },
  ];
}

/** On UPDATE, a rule whose part of the object did not change has nothing new to judge. */
function unchangedOnUpdate(rule: Rule, ctx: RuleContext): boolean {
  if (ctx.operation !== "UPDATE" || !ctx.oldObject || !rule.reads) return false;
  return isDeepStrictEqual(rule.reads(ctx.object), rule.reads(ctx.oldObject));
}

export function modeOf(
  config: Config,
  ruleId: string,
  fallback: RuleResult["mode"],
): RuleResult["mode"] {
  return config.rules[ruleId] ?? fallback;
}
