import type { RuleFamily } from "./rule.js";
import { RESTORE_FIELDS } from "./spec-fields.js";
import { knownFieldsRule, specRules, specSecrets } from "./spec-rules.js";
import { RESTORE_LAYOUT } from "./storage-spec.js";

/** NebulaRestore, in both shapes: `spec.br` (operator 1.4–1.7) and `spec.config` (1.8+). */
export const restoreFamily: RuleFamily = {
  name: "NebulaRestore",
  matches: (_object, group, kind) => group === "apps.nebula-graph.io" && kind === "NebulaRestore",
  operations: ["CREATE", "UPDATE"],
  secretsNeeded: specSecrets(RESTORE_LAYOUT, ["CREATE"]),
  rules: [
    knownFieldsRule("restore", RESTORE_FIELDS),
    ...specRules({
      prefix: "restore",
      layout: RESTORE_LAYOUT,
      checksBackupName: true,
      checksBaseBackupName: false,
      checksImage: false,
      immutableSpec: true,
      checkedOn: ["CREATE"],
    }),
  ],
};
