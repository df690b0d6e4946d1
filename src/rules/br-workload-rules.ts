import type { NebulaClusterFacts } from "../cluster-view/cluster-view.js";
import { DEFAULT_META_PORT, metaPodHost, parseMetaAddress } from "../kube/meta-address.js";
import { isDns1123Label, isDns1123Subdomain } from "../kube/names.js";
import { field, isObject, type JsonObject, type KubeObject, stringField } from "../kube/objects.js";
import { lastMemo } from "../last-memo.js";
import type { BrInvocation, ContainerReading, FlagValue } from "../workload/br-invocations.js";
import { type BrWorkload, guardsBr, readBrWorkload } from "../workload/br-workload.js";
import { WORKLOAD_KINDS, type WorkloadKind } from "../workload/workload-kinds.js";
import {
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
/** Labels the operator puts on the Jobs it makes from a NebulaBackup (1.8+). */
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const BACKUP_LABEL = "apps.nebula-graph.io/backup";

/** Verbs that act on a cluster; `cleanup`, `show` and `version` are harmless alone. */
const TARGETED_VERBS = new Set(["backup", "restore"]);

/** A BR call with the container it runs in. */
interface Call {
  readonly container: ContainerReading;
  readonly call: BrInvocation;
}

interface Calls {
  readonly all: readonly Call[];
  /** Backups and restores: the calls that act on a cluster. */
  readonly targeted: readonly Call[];
}

/** Every rule asks: listed once per workload reading (the last one: see last-memo.ts). */
const callLists = lastMemo<BrWorkload, Calls>();

function calls(w: BrWorkload): Calls {
  let lists = callLists.get(w);
  if (!lists) {
    const all = w.containers.flatMap((container) =>
      container.invocations.map((call) => ({ container, call })),
    );
    const targeted = all.filter(
      ({ call }) => call.verb !== undefined && TARGETED_VERBS.has(call.verb),
    );
    lists = { all, targeted };
    callLists.set(w, lists);
  }
  return lists;
}

const callsOf = (w: BrWorkload): readonly Call[] => calls(w).all;

const targetedCalls = (w: BrWorkload): readonly Call[] => calls(w).targeted;

const containerPath = (w: BrWorkload, c: ContainerReading): string =>
  `${w.podPath}.${c.list}[${c.index}]`;

const callPath = (w: BrWorkload, { container, call }: Call): string =>
  `${containerPath(w, container)}.${call.at.list}[${call.at.index}]`;

const flagText = (call: BrInvocation, name: string): string | undefined => {
  const value = call.flags.get(name);
  return typeof value === "object" ? value.text : undefined;
};

const flag = (call: BrInvocation, name: string): FlagValue | undefined => {
  const value = call.flags.get(name);
  return typeof value === "object" ? value : undefined;
};

/**
 * Made by a controller (a Job of a CronJob or of the operator, a Pod of a Job or ReplicaSet):
 * its template was judged where it was written; nothing is completed or warned about here.
 * A forged reference gains nothing: the target checks run all the same.
 */
export function isControllerMade(object: KubeObject): boolean {
  return controllerOf(object) !== undefined;
}

function controllerOf(object: KubeObject): { kind: unknown } | undefined {
  const owners = field(object, "metadata", "ownerReferences");
  if (!Array.isArray(owners)) return undefined;
  const owner = owners.find((o) => field(o, "controller") === true);
  return owner === undefined ? undefined : { kind: field(owner, "kind") };
}

/**
 * A Job shaped as the operator makes it from a NebulaBackup: its labels and a controller
 * reference to a NebulaBackup.
 */
export function isOperatorMadeJob(object: KubeObject): boolean {
  const labels = object.metadata?.labels;
  if (labels?.[MANAGED_BY_LABEL] !== "nebula-operator" || !labels[BACKUP_LABEL]) return false;
  return (object.kind === "Job" || object.kind === "Pod") && operatorOwner(object) !== undefined;
}

/**
 * The NebulaBackup an operator-made object answers to: a Job's controller reference (with
 * its uid), or for the Job's Pods the operator's backup label (their owner is the Job).
 */
function operatorOwner(object: KubeObject): { name: string; uid?: string } | undefined {
  if (object.kind === "Pod") {
    const labels = object.metadata?.labels;
    const ownedByJob = controllerOf(object)?.kind === "Job";
    const name = labels?.[BACKUP_LABEL];
    return ownedByJob && labels?.[MANAGED_BY_LABEL] === "nebula-operator" && name
      ? { name }
      : undefined;
  }
  const owners = field(object, "metadata", "ownerReferences");
  if (!Array.isArray(owners)) return undefined;
  const owner = owners.find(
    (o) =>
      field(o, "controller") === true &&
      field(o, "kind") === "NebulaBackup" &&
      String(field(o, "apiVersion")).startsWith("apps.nebula-graph.io/"),
  );
  const name = stringField(owner, "name");
  const uid = stringField(owner, "uid");
  return name && uid ? { name, uid } : undefined;
}

/** Which cluster a call acts on, or why that cannot be told. */
type Target =
  | { readonly ok: true; readonly name: string; readonly namespace: string; readonly via: string }
  | { readonly ok: false; readonly reason: string };

interface LabelTarget {
  readonly name: string;
  readonly path: string;
}

function labelTarget(object: KubeObject, w: BrWorkload): LabelTarget | undefined {
  for (const path of w.kind.labelPaths) {
    const name = stringField(object, ...path, CLUSTER_LABEL);
    if (name) return { name, path: `${path.join(".")}["${CLUSTER_LABEL}"]` };
  }
  return undefined;
}

const META_FORM = (ctx: RuleContext) =>
  `<cluster>-metad-0.<cluster>-metad-headless.<namespace>.svc.${ctx.config.clusterDomain}:9559`;

/**
 * The target of one call: `--cluster`/`--namespace` for `restore --mode=k8s`, else the
 * `--meta` host, which must be a meta pod's under the cluster domain; a call without either
 * is aimed by the cluster label (and gets `--meta` from the webhook).
 */
function callTarget(
  ctx: RuleContext,
  w: BrWorkload,
  { container, call }: Call,
  label: LabelTarget | undefined,
): Target {
  const mode = flag(call, "mode");
  if (call.verb === "restore" && mode && !mode.resolved)
    return {
      ok: false,
      reason:
        "restore --mode comes from a value the webhook cannot see, and the mode decides which cluster is restored; write it literally",
    };
  if (call.verb === "restore" && mode?.text.toLowerCase() === "k8s") {
    const cluster = flag(call, "cluster");
    const namespace = flag(call, "namespace");
    if (!cluster?.resolved || !isDns1123Subdomain(cluster.text))
      return {
        ok: false,
        reason:
          "restore --mode=k8s names its target with --cluster <name>, written as a literal (or a $VARIABLE with a literal env value)",
      };
    if (namespace && (!namespace.resolved || !isDns1123Label(namespace.text)))
      return { ok: false, reason: "--namespace must be a literal namespace name" };
    return {
      ok: true,
      name: cluster.text,
      namespace: namespace?.text ?? ctx.namespace,
      via: "--cluster",
    };
  }
  const meta = flag(call, "meta");
  if (meta && label && setByTheWebhook(ctx, w, container, meta)) {
    return { ok: true, name: label.name, namespace: ctx.namespace, via: "label" };
  }
  if (meta) {
    const parsed = meta.resolved
      ? parseMetaAddress(meta.text, ctx.config.clusterDomain)
      : undefined;
    if (!parsed)
      return {
        ok: false,
        reason: `cannot tell which NebulaCluster --meta names; write it as ${META_FORM(ctx)}, literally or through a $VARIABLE with a literal env value (an IP address, a ConfigMap value or another host cannot be checked)`,
      };
    return {
      ok: true,
      name: parsed.cluster,
      namespace: parsed.namespace ?? ctx.namespace,
      via: "--meta",
    };
  }
  if (label) return { ok: true, name: label.name, namespace: ctx.namespace, via: "label" };
  return {
    ok: false,
    reason: `cannot tell which NebulaCluster this ${call.verb ?? "BR call"} is for; add the label ${CLUSTER_LABEL}: <cluster name> (or --meta ${META_FORM(ctx)})`,
  };
}

/**
 * An operator Job aimed at another namespace is admitted only if the NebulaBackup it names
 * as owner says so: that one object is read before the rules run.
 */
function ownerToConfirm(
  object: KubeObject,
  kind: WorkloadKind,
  namespace: string,
  clusterDomain: string,
) {
  if (!isOperatorMadeJob(object)) return [];
  const owner = operatorOwner(object);
  if (!owner || !isDns1123Subdomain(owner.name)) return [];
  const elsewhere = targetedCalls(readBrWorkload(object, kind)).some(({ call }) => {
    const meta = flag(call, "meta");
    const parsed = meta?.resolved ? parseMetaAddress(meta.text, clusterDomain) : undefined;
    return parsed?.namespace !== undefined && parsed.namespace !== namespace;
  });
  return elsewhere ? [{ namespace, name: owner.name }] : [];
}

/**
 * `--meta $META_ADDRESS:9559` (the documented sample) in a Job the webhook completes: the
 * webhook itself sets META_ADDRESS to the labelled cluster's meta host, so the label is the
 * target. A META_ADDRESS the container defines (even from a ConfigMap) is not the webhook's.
 */
function setByTheWebhook(
  ctx: RuleContext,
  w: BrWorkload,
  container: ContainerReading,
  meta: FlagValue,
): boolean {
  return (
    meta.unknownVariables.length === 1 &&
    meta.unknownVariables[0] === META_ADDRESS_ENV &&
    webhookSetsMetaAddress(ctx, w, container)
  );
}

/** The webhook completes this container with META_ADDRESS (a hand-written Job or CronJob). */
function webhookSetsMetaAddress(ctx: RuleContext, w: BrWorkload, container: ContainerReading) {
  return w.kind.completed && !isControllerMade(ctx.object) && !container.env.has(META_ADDRESS_ENV);
}

type WorkloadCheck = (ctx: RuleContext, w: BrWorkload) => Finding[];

const checkReadable: WorkloadCheck = (ctx, w) => {
  const findings: Finding[] = [];
  for (const container of w.containers) {
    const reasons = [...container.unreadable];
    if (container.invocations.some((call) => call.verbUnknown))
      reasons.push("its br-ent verb comes from a variable");
    const split = container.invocations.flatMap((call) =>
      call.splitVariables.filter(
        (name) => !(name === META_ADDRESS_ENV && webhookSetsMetaAddress(ctx, w, container)),
      ),
    );
    if (split.length > 0)
      reasons.push(
        `the shell may split unquoted ${[...new Set(split)].map((n) => `$${/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(n) ? n : "…"}`).join(", ")} into more words and flags; quote ${split.length > 1 ? "them" : "it"} ("$NAME")`,
      );
    if (reasons.length === 0) continue;
    // Unverifiable, not wrong: a rule in failOpen allows it with a warning.
    findings.push(
      unverified(
        containerPath(w, container),
        `cannot tell what BR this container runs (${reasons.join("; ")}); write the br-ent call plainly, e.g. command: ["/bin/sh", "-ec", "exec br-ent backup full --meta ${META_FORM(ctx)} --storage s3://<bucket>"] or command: ["br-ent", "backup", "full", …]`,
      ),
    );
  }
  return findings;
};

const checkTargetCluster: WorkloadCheck = (ctx, w) => {
  const label = labelTarget(ctx.object, w);
  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const call of targetedCalls(w)) {
    const target = callTarget(ctx, w, call, label);
    const path = target.ok && target.via === "label" && label ? label.path : callPath(w, call);
    if (!target.ok) {
      findings.push(violation(path, target.reason));
      continue;
    }
    const key = `${target.namespace}/${target.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (!isDns1123Subdomain(target.name)) {
      findings.push(violation(path, "the cluster label is not a valid NebulaCluster name"));
      continue;
    }
    const lookup = ctx.cluster.nebulaCluster(target.namespace, target.name);
    switch (lookup.state) {
      case "absent":
        findings.push(
          violation(
            path,
            `NebulaCluster "${target.name}" not found in namespace "${target.namespace}"`,
          ),
        );
        break;
      case "unavailable":
        findings.push(
          unverified(
            path,
            `cannot check NebulaCluster "${target.name}" in namespace "${target.namespace}" (${lookup.reason}); try again`,
          ),
        );
        break;
      case "found":
        if (!lookup.value.enableBR)
          findings.push(
            violation(
              path,
              `NebulaCluster "${target.name}" in namespace "${target.namespace}" does not set spec.enableBR: true, so BR cannot ${call.call.verb === "restore" ? "restore into it" : "back it up"}; enable it first (kubectl -n ${target.namespace} patch nc ${target.name} --type merge -p '{"spec":{"enableBR":true}}')`,
            ),
          );
    }
  }
  return findings;
};

/** Several calls, one label: everything must name the same cluster. */
const checkMetaMatchesLabel: WorkloadCheck = (ctx, w) => {
  const label = labelTarget(ctx.object, w);
  if (!label) return [];
  const named = new Set(
    w.kind.labelPaths
      .map((path) => stringField(ctx.object, ...path, CLUSTER_LABEL))
      .filter((name): name is string => !!name),
  );
  if (named.size > 1)
    return [
      violation(
        label.path,
        `the ${CLUSTER_LABEL} labels of the object and of its template name different clusters; make them agree`,
      ),
    ];
  return targetedCalls(w).flatMap((call) => {
    const target = callTarget(ctx, w, call, label);
    if (!target.ok || target.via === "label") return [];
    if (target.name === label.name && target.namespace === ctx.namespace) return [];
    if (!isDns1123Subdomain(label.name))
      return [violation(label.path, "is not a valid NebulaCluster name")];
    return [
      violation(
        callPath(w, call),
        `${target.via} names cluster "${target.name}" in namespace "${target.namespace}" but the label ${CLUSTER_LABEL} names "${label.name}" in "${ctx.namespace}"; make them agree`,
      ),
    ];
  });
};

/**
 * A hand-written workload acts on clusters in its own namespace unless the configuration
 * allows the pair; the operator's Job may follow its NebulaBackup's clusterNamespace, which
 * the validating webhook confirms against the NebulaBackup itself.
 */
const checkCrossNamespace: WorkloadCheck = (ctx, w) => {
  const label = labelTarget(ctx.object, w);
  return targetedCalls(w).flatMap((call) => {
    const target = callTarget(ctx, w, call, label);
    if (!target.ok || target.namespace === ctx.namespace) return [];
    const allowed = ctx.config.crossNamespace.some(
      (pair) => pair.from === ctx.namespace && pair.to === target.namespace,
    );
    if (allowed) return [];
    if (isOperatorMadeJob(ctx.object)) {
      const owner = operatorOwner(ctx.object);
      const backup = owner ? ctx.cluster.nebulaBackup(ctx.namespace, owner.name) : undefined;
      if (backup?.state === "unavailable")
        return [
          unverified(
            callPath(w, call),
            `cannot check the NebulaBackup that owns this Job (${backup.reason}); try again`,
          ),
        ];
      if (
        backup?.state === "found" &&
        (owner?.uid === undefined || backup.value.uid === owner.uid) &&
        backup.value.clusterName === target.name &&
        backup.value.clusterNamespace === target.namespace
      )
        return [];
    }
    return [
      violation(
        callPath(w, call),
        `acts on a NebulaCluster in namespace "${target.namespace}" from namespace "${ctx.namespace}"; run it in "${target.namespace}", or allow the pair in the webhook's configuration (crossNamespace: [{from: ${ctx.namespace}, to: ${target.namespace}}])`,
      ),
    ];
  });
};

/** Where BR can keep backups from a pod: S3-compatible stores and, since br-ent 3.7, GCS. */
const STORAGE_SCHEMES = /^(s3|gs):\/\/[^/\s]+/;

const checkStorage: WorkloadCheck = (_ctx, w) =>
  targetedCalls(w).flatMap((call) => {
    if (call.call.strayItems.length > 0) return [];
    const storage = flagText(call.call, "storage");
    if (storage && STORAGE_SCHEMES.test(storage)) return [];
    const found = storage ? "--storage is not an s3:// or gs:// location" : "--storage is missing";
    return [
      violation(
        callPath(w, call),
        `${found}; use --storage s3://<bucket>[/path] (with --s3.* flags) or gs://<bucket>[/path] (with --gs.credentials)`,
      ),
    ];
  });

/**
 * The operator's published samples carry words to replace (v1.5 … 1.8): a literal
 * META_ADDRESS host (not $META_ADDRESS), s3://BUCKET, REGION, ACCESS_KEY, SECRET_KEY.
 */
const PLACEHOLDERS: Readonly<Record<string, RegExp>> = {
  meta: /^META_ADDRESS(:\d+)?$/,
  storage: /^(s3|gs):\/\/BUCKET(\/|$)/,
  "s3.region": /^REGION$/,
  "s3.endpoint": /^https?:\/\/([^/]*\.)?REGION(\.|\/|:|$)/,
  "s3.access_key": /^ACCESS_KEY$/,
  "s3.secret_key": /^SECRET_KEY$/,
};
const PLACEHOLDER_FLAGS = Object.keys(PLACEHOLDERS);
const isPlaceholder = (name: string, value: string): boolean =>
  PLACEHOLDERS[name]?.test(value) ?? false;

const checkPlaceholders: WorkloadCheck = (_ctx, w) =>
  callsOf(w).flatMap((call) => {
    const left = PLACEHOLDER_FLAGS.filter((name) => {
      const value = flag(call.call, name);
      return value?.resolved === true && isPlaceholder(name, value.text);
    });
    if (left.length === 0) return [];
    return [
      violation(
        callPath(w, call),
        `${left.map((f) => `--${f}`).join(", ")} still hold${left.length === 1 ? "s" : ""} a placeholder from the sample (META_ADDRESS, BUCKET, REGION, ACCESS_KEY or SECRET_KEY); put in the real value, or a $VARIABLE set in env`,
      ),
    ];
  });

const checkStrayWords: WorkloadCheck = (_ctx, w) =>
  callsOf(w).flatMap((call) => {
    if (call.call.strayWords.length === 0) return [];
    const kinds = [...new Set(call.call.strayWords)];
    return [
      violation(
        callPath(w, call),
        `the br-ent command has ${kinds.join(", ")}; br-ent stops at such words (nebula-operator#231), so remove them and write every flag as --name value`,
      ),
    ];
  });

const checkIncrementalBase: WorkloadCheck = (_ctx, w) =>
  targetedCalls(w).flatMap((call) =>
    call.call.verb === "backup" && call.call.mode === "incr" && !flagText(call.call, "base")
      ? [
          violation(
            callPath(w, call),
            "backup incr needs --base <name of the base backup>, taken of the same cluster and storage path within the cluster's wal_ttl",
          ),
        ]
      : [],
  );

const SPACE_FLAGS = ["spaces", "space"];

const checkSpaceSelection: WorkloadCheck = (_ctx, w) =>
  targetedCalls(w).flatMap((call) => {
    if (call.call.verb !== "backup") return [];
    const name = SPACE_FLAGS.find((f) => call.call.flags.has(f));
    return name
      ? [
          violation(
            callPath(w, call),
            `--${name}: backing up single graph spaces is not supported; remove it to back up the whole cluster`,
          ),
        ]
      : [];
  });

const checkSplitCommand: WorkloadCheck = (_ctx, w) =>
  callsOf(w).flatMap((call) => {
    const stray = call.call.strayItems;
    if (stray.length === 0) return [];
    // Name the flags only: their values may be credentials.
    const flags = stray
      .filter((item) => /^--?[A-Za-z][\w.-]{0,40}(=|$)/.test(item))
      .map((item) => item.split("=")[0]);
    const shown = flags.length > 0 ? flags.join(" ") : `${stray.length} item(s)`;
    return [
      violation(
        `${containerPath(w, call.container)}.${call.call.at.list}`,
        `the items after the script (${shown}) reach sh -c as $0 $1 …, so br-ent never sees them and the backup fails; put the whole br-ent command into the one quoted script item`,
      ),
    ];
  });

const CREDENTIAL_FLAGS = ["s3.access_key", "s3.secret_key", "gs.credentials"];

/** A key the webhook can read in the object, literally or through a literal env value. */
const checkPlaintextCredentials: WorkloadCheck = (_ctx, w) =>
  callsOf(w).flatMap((call) => {
    const plain = CREDENTIAL_FLAGS.filter((name) => {
      const value = flag(call.call, name);
      return value?.resolved === true && value.text !== "" && !isPlaceholder(name, value.text);
    });
    if (plain.length === 0) return [];
    return [
      violation(
        callPath(w, call),
        `${plain.map((f) => `--${f}`).join(" and ")} written in plain text (in the command or a literal env value); read ${plain.length === 1 ? "it" : "them"} from a Secret with env valueFrom.secretKeyRef and pass $VARIABLES instead`,
      ),
    ];
  });

function podSpecOf(draft: KubeObject, w: BrWorkload): JsonObject {
  const podSpec = field(draft, ...w.kind.podSpecPath);
  if (!isObject(podSpec)) throw new Error("pod spec vanished from the draft");
  return podSpec;
}

function containerOf(draft: KubeObject, w: BrWorkload, c: ContainerReading): JsonObject {
  const list = podSpecOf(draft, w)[c.list];
  const container = Array.isArray(list) ? list[c.index] : undefined;
  if (!isObject(container)) throw new Error("container vanished from the draft");
  return container;
}

/** The one cluster every call acts on, when the view knows it: what completions aim at. */
function completionTarget(ctx: RuleContext, w: BrWorkload): NebulaClusterFacts | undefined {
  const label = labelTarget(ctx.object, w);
  const targets = new Map<string, { name: string; namespace: string }>();
  for (const call of targetedCalls(w)) {
    const target = callTarget(ctx, w, call, label);
    if (!target.ok) return undefined;
    targets.set(`${target.namespace}/${target.name}`, target);
  }
  if (targets.size !== 1) return undefined;
  const [only] = [...targets.values()];
  if (!only || only.namespace !== ctx.namespace) return undefined; // never another namespace's secrets
  const lookup = ctx.cluster.nebulaCluster(only.namespace, only.name);
  return lookup.state === "found" ? lookup.value : undefined;
}

const injectPullSecret: WorkloadCheck = (ctx, w) => {
  const wanted = ctx.config.imagePullSecret
    ? [ctx.config.imagePullSecret]
    : (completionTarget(ctx, w)?.imagePullSecrets ?? []);
  if (wanted.length === 0) return [];
  const present = new Set(
    (field(ctx.object, ...w.kind.podSpecPath, "imagePullSecrets") as unknown[] | undefined)
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

/** Inserts `--meta <address>` into the item, exactly where the reader said. */
function insertMeta(draft: KubeObject, w: BrWorkload, call: Call, address: string): void {
  const insertion = call.call.metaInsertion;
  if (!insertion) return;
  const container = containerOf(draft, w, call.container);
  const list = container[insertion.at.list];
  if (!Array.isArray(list)) throw new Error("command vanished from the draft");
  if (insertion.form === "exec") {
    list.splice(insertion.at.index + 1, 0, "--meta", address);
    return;
  }
  const script = list[insertion.at.index];
  if (typeof script !== "string") throw new Error("script vanished from the draft");
  list[insertion.at.index] =
    `${script.slice(0, insertion.offset)} --meta ${address}${script.slice(insertion.offset)}`;
}

const injectMetaAddress: WorkloadCheck = (ctx, w) => {
  const cluster = completionTarget(ctx, w);
  if (!cluster) return [];
  const host = metaPodHost(cluster.name, cluster.namespace, ctx.config.clusterDomain);
  const address = `${host}:${cluster.metadPort ?? DEFAULT_META_PORT}`;
  const findings: Finding[] = [];
  const calls = targetedCalls(w);
  for (const container of new Set(calls.map((c) => c.container))) {
    if (container.env.get(META_ADDRESS_ENV) === host) continue;
    findings.push(
      mutation(`${containerPath(w, container)}.env`, `set ${META_ADDRESS_ENV}=${host}`, (draft) => {
        const target = containerOf(draft, w, container);
        const env: unknown[] = Array.isArray(target.env) ? target.env : [];
        const existing = env.findIndex((e) => field(e, "name") === META_ADDRESS_ENV);
        const entry = { name: META_ADDRESS_ENV, value: host };
        target.env =
          existing >= 0 ? env.map((e, i) => (i === existing ? entry : e)) : [...env, entry];
      }),
    );
  }
  // Later insertions first, so earlier offsets in the same item stay true.
  const missing = calls
    .filter(
      (c) =>
        !c.call.flags.has("meta") &&
        c.call.metaInsertion !== undefined &&
        c.call.strayItems.length === 0 &&
        !(c.call.verb === "restore" && flagText(c.call, "mode")?.toLowerCase() === "k8s"),
    )
    .reverse();
  for (const call of missing) {
    findings.push(
      mutation(callPath(w, call), `added --meta ${address}`, (draft) =>
        insertMeta(draft, w, call, address),
      ),
    );
  }
  return findings;
};

/**
 * A Job or CronJob labelled on itself: what it makes (its Jobs, their Pods) carries only the
 * labels of its templates, so the label is copied there.
 */
const copyClusterLabel: WorkloadCheck = (ctx, w) => {
  const own = stringField(ctx.object, "metadata", "labels", CLUSTER_LABEL);
  if (!own || !isDns1123Subdomain(own)) return [];
  const templates = w.kind.labelPaths.slice(1);
  const missing = templates.filter((path) => !stringField(ctx.object, ...path, CLUSTER_LABEL));
  return missing.map((path) =>
    mutation(
      `${path.join(".")}["${CLUSTER_LABEL}"]`,
      `copied the ${w.kind.kind}'s ${CLUSTER_LABEL} label, so what it makes names its cluster too`,
      (draft) => {
        const metadata = ensureObject(draft, path.slice(0, -1));
        const labels = isObject(metadata.labels) ? metadata.labels : {};
        metadata.labels = { ...labels, [CLUSTER_LABEL]: own };
      },
    ),
  );
};

/** The object at `path` in the draft, made on the way when missing. */
function ensureObject(draft: KubeObject, path: readonly string[]): JsonObject {
  let current: JsonObject = draft;
  for (const key of path) {
    const next = current[key];
    if (next !== undefined && !isObject(next)) throw new Error("a template is not an object");
    if (next === undefined) current[key] = {};
    current = current[key] as JsonObject;
  }
  return current;
}

interface WorkloadRuleSpec {
  readonly id: string;
  readonly description: string;
  readonly mode?: Rule["defaultMode"];
  /**
   * Only for what a person wrote: not for objects a controller made (the operator writes its
   * Jobs' flags itself; a CronJob's Jobs were completed in its template).
   */
  readonly handWrittenOnly?: boolean;
  /** Completes the object: only kinds the webhook completes (Jobs, CronJobs). */
  readonly completes?: boolean;
  readonly check: WorkloadCheck;
}

const WORKLOAD_RULES: readonly WorkloadRuleSpec[] = [
  {
    id: "readable",
    description:
      "What runs BR can be read with certainty: every br-ent call, in every container and init container",
    check: checkReadable,
  },
  {
    id: "target-cluster",
    description:
      "Every backup and restore names its NebulaCluster, which exists and has spec.enableBR: true",
    check: checkTargetCluster,
  },
  {
    id: "cross-namespace",
    description:
      "BR acts on clusters in the workload's own namespace, unless the configuration allows the pair",
    check: checkCrossNamespace,
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
    handWrittenOnly: true,
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
    description: "--meta (or --cluster) names the same cluster as the cluster label",
    handWrittenOnly: true,
    check: checkMetaMatchesLabel,
  },
  {
    id: "plaintext-credentials",
    description: "Storage credentials come from a Secret, not plain text",
    mode: "warn",
    handWrittenOnly: true,
    check: checkPlaintextCredentials,
  },
  {
    id: "image-pull-secret",
    description: "The br-ent pod can pull its image (imagePullSecrets added)",
    handWrittenOnly: true,
    completes: true,
    check: injectPullSecret,
  },
  {
    id: "meta-address",
    description: "META_ADDRESS and --meta point at the cluster's meta pod 0",
    handWrittenOnly: true,
    completes: true,
    check: injectMetaAddress,
  },
  {
    id: "cluster-label",
    description: "A Job's or CronJob's cluster label reaches the Jobs and Pods it makes",
    handWrittenOnly: true,
    completes: true,
    check: copyClusterLabel,
  },
];

function workloadFamily(kind: WorkloadKind): RuleFamily {
  return {
    name: kind.kind,
    matches: (object, group, requestKind) =>
      group === kind.group && requestKind === kind.kind && guardsBr(readBrWorkload(object, kind)),
    operations: kind.operations,
    secretsNeeded: () => [],
    nebulaBackupsNeeded: (object, namespace, config) =>
      kind.kind === "Job" || kind.kind === "Pod"
        ? ownerToConfirm(object, kind, namespace, config.clusterDomain)
        : [],
    rules: WORKLOAD_RULES.map((spec) => ({
      id: `backup-job-${spec.id}`,
      description: spec.description,
      defaultMode: spec.mode ?? "enforce",
      reads: kind.judged,
      // Completing rules only complete: /validate has nothing to act on in what they return.
      ...(spec.completes ? { judges: false } : {}),
      ...(spec.completes && kind.completed ? { completes: true } : {}),
      evaluate: (ctx: RuleContext) => {
        if (spec.completes && !kind.completed) return [];
        if (spec.handWrittenOnly && isControllerMade(ctx.object)) return [];
        return spec.check(ctx, readBrWorkload(ctx.object, kind));
      },
    })),
  };
}

/** One family per kind that runs pods: Pod, Job, CronJob, Deployment, StatefulSet, … */
export const WORKLOAD_FAMILIES: readonly RuleFamily[] = WORKLOAD_KINDS.map(workloadFamily);
