import type { KubeObject } from "../kube/objects.js";
import { WORKLOAD_FAMILIES } from "./br-workload-rules.js";
import { nebulaBackupFamily, nebulaCronBackupFamily } from "./nebula-backup-rules.js";
import { restoreFamily } from "./restore-rules.js";
import type { RuleFamily } from "./rule.js";

/** Every rule family, in the order their kinds are tried. */
export const FAMILIES: readonly RuleFamily[] = [
  restoreFamily,
  nebulaBackupFamily,
  nebulaCronBackupFamily,
  ...WORKLOAD_FAMILIES,
];

/** The family that guards this object, or undefined: then it is allowed untouched. */
export function familyFor(object: KubeObject, group: string, kind: string): RuleFamily | undefined {
  return FAMILIES.find((family) => family.matches(object, group, kind));
}
