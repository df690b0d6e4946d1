import type { NebulaClusterFacts } from "../cluster-view/cluster-view.js";
import { DEFAULT_META_PORT, metaPodHost, parseMetaAddress } from "../kube/meta-address.js";
import { field, isObject, type JsonObject, type KubeObject, stringField } from "../kube/objects.js";
import {
  type BrInvocation,
  brInvocations,
  expandEnv,
  flagValue,
  insertMetaFlag,
} from "./br-command.js";
import {
  type AdmissionOperation,
  type Finding,
  mutation,
  type Rule,
  type RuleContext,
  type RuleFamily,
  unverified,
  violation,
} from "./rule.js";

/** The label the operator puts on a cluster's pods; users put it on backup Jobs to name the cluster. */
export const CLUSTER_LABEL = "app.kubernetes.io/cluster";
export const META_ADDRESS_ENV = "META_ADDRESS";

/** Where a workload kind keeps its pod template and the labels that may name the cluster. */
interface WorkloadShape {
  readonly kind: "Job" | "CronJob";
  readonly podSpecPath: readonly string[];
  readonly labelPaths: readonly (readonly string[])[];
  readonly operations: readonly AdmissionOperation[];
  /** What the rules read: on UPDATE, a change elsewhere (suspend, history limits) is not judged. */
  readonly judged: (object: KubeObject) => unknown;
}

const JOB: WorkloadShape = {
  kind: "Job",
  podSpecPath: ["spec", "template", "spec"],
  labelPaths: [
    ["metadata", "labels"],
    ["spec", "template", "metadata", "labels"],
  ],
  // A Job's pod template is immutable: check and complete it when it is created.
  operations: ["CREATE"],
  judged: (object) => [object.metadata?.labels, field(object, "spec", "template")],
};

const CRON_JOB: WorkloadShape = {
  kind: "CronJob",
  podSpecPath: ["spec", "jobTemplate", "spec", "template", "spec"],
  labelPaths: [
    ["metadata", "labels"],
    ["spec", "jobTemplate", "metadata", "labels"],
    ["spec", "jobTemplate", "spec", "template", "metadata", "labels"],
  ],
  operations: ["CREATE", "UPDATE"],
  judged: (object) => [object.metadata?.labels, field(object, "spec", "jobTemplate")],
};

/** Labels the operator puts on the Jobs it makes from a NebulaBackup (1.8+). */
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const BACKUP_LABEL = "apps.nebula-graph.io/backup";

/**
 * A Job shaped as the operator makes it: its labels and a controller reference to a
 * NebulaBackup. Labels and references can be forged, so this only spares such a Job the
 * completions and warnings meant for hand-written ones; its target is checked all the same.
 */
export function isOperatorMadeJob(object: KubeObject): boolean {
  const labels = object.metadata?.labels;
  if (labels?.[MANAGED_BY_LABEL] !== "nebula-operator" || !labels[BACKUP_LABEL]) return false;
  const owners = field(object, "metadata", "ownerReferences");
  return (
    object.kind === "Job" &&
    Array.isArray(owners) &&
    owners.some(
      (owner) =>
        field(owner, "controller") === true &&
        field(owner, "kind") === "NebulaBackup" &&
        String(field(owner, "apiVersion")).startsWith("apps.nebula-graph.io/"),
    )
  );
}

/** The backup invocations of a workload, with the paths messages point at. */
interface BackupWorkload {
  readonly shape: WorkloadShape;
  readonly podPath: string;
  readonly invocations: readonly BrInvocation[];
}

const readings = new WeakMap<KubeObject, BackupWorkload>();

const BR_WORDS = /br-ent|nebula-br/;

/**
 * A cheap first look, like the webhook configuration's matchCondition: do any of the
 * containers mention BR in image, command or args? Most Jobs do not, and are let go here.
 */
function mentionsBr(containers: unknown): boolean {
  if (!Array.isArray(containers)) return false;
  for (const container of containers) {
    if (!isObject(container)) continue;
    if (typeof container.image === "string" && BR_WORDS.test(container.image)) return true;
    for (const list of [container.command, container.args]) {
      if (
        Array.isArray(list) &&
        list.some((word) => typeof word === "string" && BR_WORDS.test(word))
      )
        return true;
    }
  }
  return false;
}

function readWorkload(object: KubeObject, shape: WorkloadShape): BackupWorkload {
  const cached = readings.get(object);
  if (cached) return cached;
  const podSpec = field(object, ...shape.podSpecPath);
  const workload = {
    shape,
    podPath: shape.podSpecPath.join("."),
    invocations: brInvocations(podSpec).filter(
      (inv) => inv.verb === undefined || inv.verb === "backup",
    ),
  };
  readings.set(object, workload);
  return workload;
}

const containerPath = (w: BackupWorkload, inv: BrInvocation): string =>
  `${w.podPath}.containers[${inv.containerIndex}]`;

const commandPath = (w: BackupWorkload, inv: BrInvocation): string =>
  inv.script
    ? `${containerPath(w, inv)}.${inv.script.list}[${inv.script.index}]`
    : `${containerPath(w, inv)}.command`;

/** The cluster a backup names, and how it named it. */
type ClusterTarget =
  | {
      readonly via: "label";
      readonly name: string;
      readonly namespace: string;
      readonly path: string;
    }
  | {
      readonly via: "meta";
      readonly name: string;
      readonly namespace: string;
      readonly path: string;
    }
  | { readonly via: "none" };

function labelTarget(
  object: KubeObject,
  w: BackupWorkload,
  namespace: string,
): ClusterTarget | undefined {
  for (const path of w.shape.labelPaths) {
    const name = stringField(object, ...path, CLUSTER_LABEL);
    if (name)
      return { via: "label", name, namespace, path: `${path.join(".")}["${CLUSTER_LABEL}"]` };
  }
  return undefined;
}

function metaTarget(
  inv: BrInvocation,
  w: BackupWorkload,
  ctx: RuleContext,
): ClusterTarget | undefined {
  const namespace = ctx.namespace;
  const meta = flagValue(inv, "meta");
  const target = meta
    ? parseMetaAddress(expandEnv(meta, inv.env), ctx.config.clusterDomain)
    : undefined;
  if (!target) return undefined;
  return {
    via: "meta",
    name: target.cluster,
    namespace: target.namespace ?? namespace,
    path: commandPath(w, inv),
  };
}

/** Label first (the operator's own key), then the `--meta` host. */
function resolveTarget(ctx: RuleContext, w: BackupWorkload): ClusterTarget {
  const byLabel = labelTarget(ctx.object, w, ctx.namespace);
  if (byLabel) return byLabel;
  for (const inv of w.invocations) {
    const byMeta = metaTarget(inv, w, ctx);
    if (byMeta) return byMeta;
  }
  return { via: "none" };
}

/** The target cluster when the view knows it, for mutations. */
function targetCluster(ctx: RuleContext, w: BackupWorkload): NebulaClusterFacts | undefined {
  const target = resolveTarget(ctx, w);
  if (target.via === "none") return undefined;
  const lookup = ctx.cluster.nebulaCluster(target.namespace, target.name);
  return lookup.state === "found" ? lookup.value : undefined;
}

type WorkloadCheck = (ctx: RuleContext, w: BackupWorkload) => Finding[];

const checkTargetCluster: WorkloadCheck = (ctx, w) => {
  const target = resolveTarget(ctx, w);
  if (target.via === "none") {
    return [
      violation(
        "metadata.labels",
        `cannot tell which NebulaCluster this backup is for; add the label ${CLUSTER_LABEL}: <cluster name> (or --meta <cluster>-metad-0.<cluster>-metad-headless.<namespace>.svc:9559)`,
      ),
    ];
  }
  const lookup = ctx.cluster.nebulaCluster(target.namespace, target.name);
  switch (lookup.state) {
    case "absent":
      return [
        violation(
          target.path,
          `NebulaCluster "${target.name}" not found in namespace "${target.namespace}"`,
        ),
      ];
    case "unavailable":
      return [
        unverified(
          target.path,
          `cannot check NebulaCluster "${target.name}" in namespace "${target.namespace}" (${lookup.reason}); try again`,
        ),
      ];
    case "found":
      if (lookup.value.enableBR) return [];
      return [
        violation(
          target.path,
          `NebulaCluster "${target.name}" in namespace "${target.namespace}" does not set spec.enableBR: true, so BR cannot back it up; enable it first (kubectl -n ${target.namespace} patch nc ${target.name} --type merge -p '{"spec":{"enableBR":true}}')`,
        ),
      ];
  }
};

/** Where BR can keep backups from a pod: S3-compatible stores and, since br-ent 3.7, GCS. */
const STORAGE_SCHEMES = /^(s3|gs):\/\/[^/\s]+/;

const checkStorage: WorkloadCheck = (_ctx, w) =>
  w.invocations.flatMap((inv) => {
    if (inv.verb !== "backup" || inv.strayItems.length > 0) return [];
    const storage = flagValue(inv, "storage");
    if (storage && STORAGE_SCHEMES.test(storage)) return [];
    const found = storage ? "--storage is not an s3:// or gs:// location" : "--storage is missing";
    return [
      violation(
        commandPath(w, inv),
        `${found}; back up to --storage s3://<bucket>[/path] (with --s3.* flags) or gs://<bucket>[/path] (with --gs.credentials)`,
      ),
    ];
  });

/**
 * The operator's published samples carry words to replace (v1.5 … 1.8): a literal
 * META_ADDRESS host (not $META_ADDRESS), s3://BUCKET, REGION, ACCESS_KEY, SECRET_KEY.
 */
const PLACEHOLDER = /(^|[^$\w{])(META_ADDRESS|BUCKET|REGION|ACCESS_KEY|SECRET_KEY)(?!\w)/;
const PLACEHOLDER_FLAGS = [
  "meta",
  "storage",
  "s3.region",
  "s3.endpoint",
  "s3.access_key",
  "s3.secret_key",
] as const;

const checkPlaceholders: WorkloadCheck = (_ctx, w) =>
  w.invocations.flatMap((inv) => {
    const left = PLACEHOLDER_FLAGS.filter((flag) => {
      const value = flagValue(inv, flag);
      return value !== undefined && PLACEHOLDER.test(expandEnv(value, inv.env));
    });
    if (left.length === 0) return [];
    return [
      violation(
        commandPath(w, inv),
        `${left.map((f) => `--${f}`).join(", ")} still hold${left.length === 1 ? "s" : ""} a placeholder from the sample (META_ADDRESS, BUCKET, REGION, ACCESS_KEY or SECRET_KEY); put in the real value, or a $VARIABLE set in env`,
      ),
    ];
  });

const checkStrayWords: WorkloadCheck = (_ctx, w) =>
  w.invocations.flatMap((inv) => {
    if (inv.strayWords.length === 0) return [];
    const kinds = [...new Set(inv.strayWords)];
    return [
      violation(
        commandPath(w, inv),
        `the br-ent command has ${kinds.join(", ")}; br-ent stops at such words (nebula-operator#231), so remove them and write every flag as --name value`,
      ),
    ];
  });

const checkIncrementalBase: WorkloadCheck = (_ctx, w) =>
  w.invocations.flatMap((inv) =>
    inv.mode === "incr" && !flagValue(inv, "base")
      ? [
          violation(
            commandPath(w, inv),
            "backup incr needs --base <name of the base backup>, taken of the same cluster and storage path within the cluster's wal_ttl",
          ),
        ]
      : [],
  );

const SPACE_FLAGS = ["spaces", "space"];

const checkSpaceSelection: WorkloadCheck = (_ctx, w) =>
  w.invocations.flatMap((inv) => {
    const flag = SPACE_FLAGS.find((f) => inv.flags.has(f));
    return flag
      ? [
          violation(
            commandPath(w, inv),
            `--${flag}: backing up single graph spaces is not supported; remove it to back up the whole cluster`,
          ),
        ]
      : [];
  });

const checkMetaMatchesLabel: WorkloadCheck = (ctx, w) => {
  const byLabel = labelTarget(ctx.object, w, ctx.namespace);
  if (byLabel?.via !== "label") return [];
  return w.invocations.flatMap((inv) => {
    const byMeta = metaTarget(inv, w, ctx);
    if (byMeta?.via !== "meta") return [];
    if (byMeta.name === byLabel.name && byMeta.namespace === byLabel.namespace) return [];
    return [
      violation(
        commandPath(w, inv),
        `--meta names cluster "${byMeta.name}" in namespace "${byMeta.namespace}" but the label ${CLUSTER_LABEL} names "${byLabel.name}" in "${byLabel.namespace}"; make them agree`,
      ),
    ];
  });
};

const checkSplitCommand: WorkloadCheck = (_ctx, w) =>
  w.invocations.flatMap((inv) => {
    if (inv.strayItems.length === 0 || !inv.script) return [];
    // Name the flags only: their values may be credentials.
    const flags = inv.strayItems
      .filter((item) => item.startsWith("-"))
      .map((item) => item.split("=")[0]);
    const shown = flags.length > 0 ? flags.join(" ") : `${inv.strayItems.length} item(s)`;
    return [
      violation(
        `${containerPath(w, inv)}.${inv.script.list}`,
        `the items after the script (${shown}) reach sh -c as $0 $1 …, so br-ent never sees them and the backup fails; put the whole br-ent command into the one quoted script item`,
      ),
    ];
  });

const CREDENTIAL_FLAGS = ["s3.access_key", "s3.secret_key", "gs.credentials"];

const checkPlaintextCredentials: WorkloadCheck = (_ctx, w) =>
  w.invocations.flatMap((inv) => {
    const plain = CREDENTIAL_FLAGS.filter((flag) => {
      const value = flagValue(inv, flag);
      // A $VARIABLE comes from env; a sample placeholder is no key (the placeholder rule says so).
      return value !== undefined && !value.startsWith("$") && !PLACEHOLDER.test(value);
    });
    if (plain.length === 0) return [];
    return [
      violation(
        commandPath(w, inv),
        `${plain.map((f) => `--${f}`).join(" and ")} written in plain text; read ${plain.length === 1 ? "it" : "them"} from a Secret with env valueFrom.secretKeyRef and pass $VARIABLES instead`,
      ),
    ];
  });

function podSpecOf(draft: KubeObject, w: BackupWorkload): JsonObject {
  const podSpec = field(draft, ...w.shape.podSpecPath);
  if (!isObject(podSpec)) throw new Error("pod spec vanished from the draft");
  return podSpec;
}

const injectPullSecret: WorkloadCheck = (ctx, w) => {
  const wanted = ctx.config.imagePullSecret
    ? [ctx.config.imagePullSecret]
    : (targetCluster(ctx, w)?.imagePullSecrets ?? []);
  const present = new Set(
    (field(ctx.object, ...w.shape.podSpecPath, "imagePullSecrets") as unknown[] | undefined)
      ?.map((ref) => stringField(ref, "name"))
      .filter((name): name is string => !!name) ?? [],
  );
  const missing = wanted.filter((name) => !present.has(name));
  if (missing.length === 0) return [];
  return [
    mutation(
      `${w.podPath}.imagePullSecrets`,
      `added ${missing.join(", ")} to pull the br-ent image`,
      (draft) => {
        const podSpec = podSpecOf(draft, w);
        const list = Array.isArray(podSpec.imagePullSecrets) ? podSpec.imagePullSecrets : [];
        podSpec.imagePullSecrets = [...list, ...missing.map((name) => ({ name }))];
      },
    ),
  ];
};

const injectMetaAddress: WorkloadCheck = (ctx, w) => {
  const cluster = targetCluster(ctx, w);
  if (!cluster) return [];
  const host = metaPodHost(cluster.name, cluster.namespace, ctx.config.clusterDomain);
  const address = `${host}:${cluster.metadPort ?? DEFAULT_META_PORT}`;
  return w.invocations.flatMap((inv) => {
    const findings: Finding[] = [];
    const container = containerPath(w, inv);
    if (inv.env.get(META_ADDRESS_ENV) !== host) {
      findings.push(
        mutation(`${container}.env`, `set ${META_ADDRESS_ENV}=${host}`, (draft) => {
          const target = (podSpecOf(draft, w).containers as JsonObject[])[
            inv.containerIndex
          ] as JsonObject;
          const env: unknown[] = Array.isArray(target.env) ? target.env : [];
          const existing = env.findIndex((e) => field(e, "name") === META_ADDRESS_ENV);
          const entry = { name: META_ADDRESS_ENV, value: host };
          target.env =
            existing >= 0 ? env.map((e, i) => (i === existing ? entry : e)) : [...env, entry];
        }),
      );
    }
    const script = inv.script;
    if (inv.verb === "backup" && !inv.flags.has("meta") && script && inv.strayItems.length === 0) {
      findings.push(
        mutation(commandPath(w, inv), `added --meta ${address}`, (draft) => {
          const target = (podSpecOf(draft, w).containers as JsonObject[])[
            inv.containerIndex
          ] as JsonObject;
          const list = target[script.list] as string[];
          list[script.index] = insertMetaFlag(list[script.index] as string, address);
        }),
      );
    }
    return findings;
  });
};

interface WorkloadRuleSpec {
  readonly id: string;
  readonly description: string;
  readonly mode?: Rule["defaultMode"];
  /**
   * Not for Jobs the operator made: it writes their flags itself and owns their pod
   * template, so it is neither completed nor warned about what nobody can change.
   */
  readonly handWrittenOnly?: boolean;
  readonly check: WorkloadCheck;
}

const WORKLOAD_RULES: readonly WorkloadRuleSpec[] = [
  {
    id: "target-cluster",
    description: "The target NebulaCluster is named, exists and has spec.enableBR: true",
    check: checkTargetCluster,
  },
  {
    id: "split-command",
    description: "br-ent flags sit inside the one sh -c script, not after it",
    check: checkSplitCommand,
  },
  {
    id: "storage",
    description: "--storage is an s3:// or gs:// location (bucket and optional path)",
    check: checkStorage,
  },
  {
    id: "placeholders",
    description: "No placeholder from the published samples is left in the br-ent flags",
    check: checkPlaceholders,
  },
  {
    id: "stray-words",
    description: "The br-ent command has no lone dashes, typographic dashes or extra words",
    check: checkStrayWords,
  },
  {
    id: "incremental-base",
    description: "backup incr names its base backup with --base",
    check: checkIncrementalBase,
  },
  {
    id: "space-selection",
    description: "No graph-space selection flags: BR backs up whole clusters",
    check: checkSpaceSelection,
  },
  {
    id: "meta-matches-label",
    description: "--meta names the same cluster as the cluster label",
    check: checkMetaMatchesLabel,
  },
  {
    id: "plaintext-credentials",
    description: "S3 credentials come from a Secret, not plain text",
    mode: "warn",
    handWrittenOnly: true,
    check: checkPlaintextCredentials,
  },
  {
    id: "image-pull-secret",
    description: "The br-ent pod can pull its image (imagePullSecrets added)",
    handWrittenOnly: true,
    check: injectPullSecret,
  },
  {
    id: "meta-address",
    description: "META_ADDRESS and --meta point at the cluster's meta pod 0",
    handWrittenOnly: true,
    check: injectMetaAddress,
  },
];

function workloadFamily(shape: WorkloadShape): RuleFamily {
  return {
    name: `backup ${shape.kind}`,
    matches: (object, group, kind) =>
      group === "batch" &&
      kind === shape.kind &&
      mentionsBr(field(object, ...shape.podSpecPath, "containers")) &&
      readWorkload(object, shape).invocations.length > 0,
    operations: shape.operations,
    secretsNeeded: () => [],
    rules: WORKLOAD_RULES.map((spec) => ({
      id: `backup-job-${spec.id}`,
      description: spec.description,
      defaultMode: spec.mode ?? "enforce",
      reads: shape.judged,
      evaluate: (ctx: RuleContext) =>
        spec.handWrittenOnly && isOperatorMadeJob(ctx.object)
          ? []
          : spec.check(ctx, readWorkload(ctx.object, shape)),
    })),
  };
}

export const backupJobFamily = workloadFamily(JOB);
export const backupCronJobFamily = workloadFamily(CRON_JOB);
