import { field } from "../kube/objects.js";
import { scheduleProblem } from "./cron-schedule.js";
import { type Rule, type RuleFamily, violation } from "./rule.js";
import { BACKUP_FIELDS, CRON_BACKUP_FIELDS } from "./spec-fields.js";
import {
  knownFieldsRule,
  maxReservedTimeRule,
  type SpecRuleOptions,
  specRules,
  specSecrets,
} from "./spec-rules.js";
import { BACKUP_LAYOUT, CRON_BACKUP_LAYOUT } from "./storage-spec.js";

const GROUP = "apps.nebula-graph.io";

const BACKUP_OPTIONS: Omit<SpecRuleOptions, "layout" | "checkedOn"> = {
  prefix: "backup",
  checksBackupName: false,
  checksBaseBackupName: true,
  checksImage: true,
  immutableSpec: false,
};

/** The operator's own backup object (1.8+): the same storage and cluster checks as restores. */
export const nebulaBackupFamily: RuleFamily = {
  name: "NebulaBackup",
  matches: (_object, group, kind) => group === GROUP && kind === "NebulaBackup",
  operations: ["CREATE"],
  secretsNeeded: specSecrets(BACKUP_LAYOUT, ["CREATE"]),
  rules: [
    knownFieldsRule("backup", BACKUP_FIELDS),
    ...specRules({ ...BACKUP_OPTIONS, layout: BACKUP_LAYOUT, checkedOn: ["CREATE"] }),
  ],
};

const scheduleRule: Rule = {
  id: "backup-schedule",
  description: "The schedule is one the operator's cron parser (robfig/cron ParseStandard) accepts",
  defaultMode: "enforce",
  reads: (object) => field(object, "spec", "schedule"),
  evaluate: (ctx) => {
    const problem = scheduleProblem(field(ctx.object, "spec", "schedule"));
    return problem ? [violation("spec.schedule", problem)] : [];
  },
};

/**
 * The scheduled form: `spec.schedule` and the backup settings under `spec.backupTemplate`.
 * Checked on UPDATE too, but each rule only when its own part changed: pausing, relabelling
 * or rescheduling a cron backup never waits on its cluster or Secret.
 */
export const nebulaCronBackupFamily: RuleFamily = {
  name: "NebulaCronBackup",
  matches: (_object, group, kind) => group === GROUP && kind === "NebulaCronBackup",
  operations: ["CREATE", "UPDATE"],
  secretsNeeded: specSecrets(CRON_BACKUP_LAYOUT, ["CREATE", "UPDATE"]),
  rules: [
    knownFieldsRule("backup", CRON_BACKUP_FIELDS),
    scheduleRule,
    maxReservedTimeRule,
    ...specRules({
      ...BACKUP_OPTIONS,
      layout: CRON_BACKUP_LAYOUT,
      checkedOn: ["CREATE", "UPDATE"],
    }),
  ],
};
