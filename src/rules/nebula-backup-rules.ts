import { CronExpressionParser } from "cron-parser";
import { field } from "../kube/objects.js";
import { type Rule, type RuleFamily, violation } from "./rule.js";
import { specRules, specSecrets } from "./spec-rules.js";
import { BACKUP_LAYOUT, CRON_BACKUP_LAYOUT } from "./storage-spec.js";

const GROUP = "apps.nebula-graph.io";

/** The operator's own backup object (1.8+): the same storage and cluster checks as restores. */
export const nebulaBackupFamily: RuleFamily = {
  name: "NebulaBackup",
  matches: (_object, group, kind) => group === GROUP && kind === "NebulaBackup",
  operations: ["CREATE"],
  secretsNeeded: specSecrets(BACKUP_LAYOUT),
  rules: specRules({
    prefix: "backup",
    layout: BACKUP_LAYOUT,
    checksBackupName: false,
    immutableSpec: false,
    checkedOn: ["CREATE"],
  }),
};

const DESCRIPTORS = new Set([
  "@yearly",
  "@annually",
  "@monthly",
  "@weekly",
  "@daily",
  "@midnight",
  "@hourly",
]);

/** Kubernetes CronJob syntax: five fields or a descriptor, optionally after `TZ=`/`CRON_TZ=`. */
export function scheduleProblem(schedule: unknown): string | undefined {
  if (typeof schedule !== "string" || schedule.trim() === "") {
    return 'is required; give a cron schedule such as "0 3 * * *" (off-peak: BR blocks DDL and DML while it runs)';
  }
  const expression = schedule.replace(/^(CRON_)?TZ=\S+\s+/, "").trim();
  if (DESCRIPTORS.has(expression)) return undefined;
  const fields = expression.split(/\s+/);
  if (fields.length !== 5)
    return `"${schedule}" has ${fields.length} fields; a cron schedule has 5 (minute hour day month weekday)`;
  try {
    CronExpressionParser.parse(expression);
    return undefined;
  } catch (error) {
    return `"${schedule}" is not a valid cron schedule: ${(error as Error).message}`;
  }
}

const scheduleRule: Rule = {
  id: "backup-schedule",
  description: "The cron schedule is valid (five fields or a descriptor)",
  defaultMode: "enforce",
  evaluate: (ctx) => {
    const problem = scheduleProblem(field(ctx.object, "spec", "schedule"));
    return problem ? [violation("spec.schedule", problem)] : [];
  },
};

/** The scheduled form: `spec.schedule` and the backup settings under `spec.backupTemplate`. */
export const nebulaCronBackupFamily: RuleFamily = {
  name: "NebulaCronBackup",
  matches: (_object, group, kind) => group === GROUP && kind === "NebulaCronBackup",
  operations: ["CREATE", "UPDATE"],
  secretsNeeded: specSecrets(CRON_BACKUP_LAYOUT),
  rules: [
    scheduleRule,
    ...specRules({
      prefix: "backup",
      layout: CRON_BACKUP_LAYOUT,
      checksBackupName: false,
      immutableSpec: false,
      checkedOn: ["CREATE", "UPDATE"],
    }),
  ],
};
