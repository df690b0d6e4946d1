import type { Config } from "../config/config.js";
import { type RuleContext, type RuleFamily, type RuleResult, violation } from "./rule.js";

/**
 * Runs a family's rules in their configured modes. A rule that throws is a bug of ours; it
 * is reported as a violation of that rule (fail closed) instead of failing the request.
 */
export function evaluateFamily(family: RuleFamily, ctx: RuleContext): RuleResult[] {
  const results: RuleResult[] = [];
  for (const rule of family.rules) {
    const mode = modeOf(ctx.config, rule.id, rule.defaultMode);
    if (mode === "off") continue;
    try {
      results.push({ rule, mode, findings: rule.evaluate(ctx) });
    } catch (error) {
      results.push({
        rule,
        mode,
        findings: [
          violation("(rule)", `internal error while checking: ${(error as Error).message}`),
        ],
      });
    }
  }
  return results;
}

export function modeOf(
  config: Config,
  ruleId: string,
  fallback: RuleResult["mode"],
): RuleResult["mode"] {
  return config.rules[ruleId] ?? fallback;
}
