import { field, type KubeObject } from "../kube/objects.js";
import { readContainer } from "../workload/br-invocations.js";
import { scheduleProblem } from "./cron-schedule.js";
import { type Finding, type Rule, type RuleFamily, unverified, violation } from "./rule.js";
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

/**
 * The operator runs br-ent itself, in the container it builds (`ng-backup`); the init and
 * sidecar containers a NebulaBackup adds to that Job must not run a backup or restore of
 * their own, nor anything the webhook cannot read (they would reach the cluster unchecked
 * until the Job itself is judged, and fail the backup there).
 */
function containersRule(specPath: readonly string[]): Rule {
  const prefix = specPath.join(".");
  return {
    id: "backup-containers",
    description:
      "Init and sidecar containers of the operator's backup Job run no backup or restore of their own",
    defaultMode: "enforce",
    reads: (object: KubeObject) => [
      field(object, ...specPath, "initContainers"),
      field(object, ...specPath, "sidecarContainers"),
    ],
    evaluate: (ctx) => {
      const findings: Finding[] = [];
      for (const list of ["initContainers", "sidecarContainers"] as const) {
        const containers = field(ctx.object, ...specPath, list);
        if (!Array.isArray(containers)) continue;
        containers.forEach((container, index) => {
          const reading = readContainer(
            container,
            list === "initContainers" ? list : "containers",
            index,
          );
          const path = `${prefix}.${list}[${index}]`;
          if (reading.unreadable.length > 0)
            findings.push(
              unverified(
                path,
                `cannot tell what BR this container runs (${reading.unreadable.join("; ")})`,
              ),
            );
          if (reading.invocations.some((call) => call.verb === "backup" || call.verb === "restore"))
            findings.push(
              violation(
                path,
                "runs a br-ent backup or restore of its own; the operator runs the backup itself, so remove it",
              ),
            );
        });
      }
      return findings;
    },
  };
}

/** The operator's own backup object (1.8+): the same storage and cluster checks as restores. */
export const nebulaBackupFamily: RuleFamily = {
  name: "NebulaBackup",
  matches: (_object, group, kind) => group === GROUP && kind === "NebulaBackup",
  operations: ["CREATE"],
  secretsNeeded: specSecrets(BACKUP_LAYOUT, ["CREATE"]),
  rules: [
    knownFieldsRule("backup", BACKUP_FIELDS),
    containersRule(["spec"]),
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
    containersRule(["spec", "backupTemplate"]),
    ...specRules({
      ...BACKUP_OPTIONS,
      layout: CRON_BACKUP_LAYOUT,
      checkedOn: ["CREATE", "UPDATE"],
    }),
  ],
};
