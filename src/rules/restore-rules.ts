import type { RuleFamily } from "./rule.js";
import { specRules, specSecrets } from "./spec-rules.js";
import { RESTORE_LAYOUT } from "./storage-spec.js";

/** NebulaRestore, in both shapes: `spec.br` (operator 1.4–1.7) and `spec.config` (1.8+). */
export const restoreFamily: RuleFamily = {
  name: "NebulaRestore",
  matches: (_object, group, kind) => group === "apps.nebula-graph.io" && kind === "NebulaRestore",
  operations: ["CREATE", "UPDATE"],
  secretsNeeded: specSecrets(RESTORE_LAYOUT),
  rules: specRules({
    prefix: "restore",
    layout: RESTORE_LAYOUT,
    checksBackupName: true,
    immutableSpec: true,
    checkedOn: ["CREATE"],
  }),
};
