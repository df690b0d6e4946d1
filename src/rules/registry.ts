import type { KubeObject } from "../kube/objects.js";
import { backupCronJobFamily, backupJobFamily } from "./backup-job-rules.js";
import { nebulaBackupFamily, nebulaCronBackupFamily } from "./nebula-backup-rules.js";
import { restoreFamily } from "./restore-rules.js";
import type { Rule, RuleFamily } from "./rule.js";

/** Every rule family, in the order their kinds are tried. */
export const FAMILIES: readonly RuleFamily[] = [
  restoreFamily,
  backupJobFamily,
  backupCronJobFamily,
  nebulaBackupFamily,
  nebulaCronBackupFamily,
];

/** The family that guards this object, or undefined: then it is allowed untouched. */
export function familyFor(object: KubeObject, group: string, kind: string): RuleFamily | undefined {
  return FAMILIES.find((family) => family.matches(object, group, kind));
}

/** All rules by id (a rule shared by two families appears once). */
export function allRules(): Map<string, Rule> {
  const rules = new Map<string, Rule>();
  for (const family of FAMILIES)
    for (const rule of family.rules) if (!rules.has(rule.id)) rules.set(rule.id, rule);
  return rules;
}
