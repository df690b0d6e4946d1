import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Admission } from "./admission/admit.js";
import type { AdmissionRequest } from "./admission/review.js";
import type { ClusterView } from "./cluster-view/cluster-view.js";
import { FAMILIES } from "./rules/registry.js";

const PREFIX = "nebula_br_webhook_";

/**
 * Label values come only from these closed sets; anything else is counted as `other`.
 * A label value is a time series kept for the life of the process: one taken from a request
 * (a 1 MiB `request.kind`) would grow memory without bound and echo the request on /metrics.
 */
export const OTHER = "other";

/** The kinds the webhook guards or may be sent, as `group/kind` (core kinds without a group). */
const KNOWN_KINDS: ReadonlySet<string> = new Set([
  "apps.nebula-graph.io/NebulaRestore",
  "apps.nebula-graph.io/NebulaBackup",
  "apps.nebula-graph.io/NebulaCronBackup",
  "batch/Job",
  "batch/CronJob",
  "Pod",
  "apps/Deployment",
  "apps/StatefulSet",
  "apps/ReplicaSet",
  "apps/DaemonSet",
]);
const LONGEST_KIND = Math.max(...[...KNOWN_KINDS].map((kind) => kind.length));
const OPERATIONS: ReadonlySet<string> = new Set(["CREATE", "UPDATE", "DELETE", "CONNECT"]);
const STAGES: ReadonlySet<string> = new Set(["validate", "mutate"]);
const MODES: ReadonlySet<string> = new Set(["enforce", "warn", "audit", "off"]);

/** Rule ids as the registry defines them, read once (families do not change at run time). */
let ruleIds: ReadonlySet<string> | undefined;
const knownRuleIds = (): ReadonlySet<string> => {
  ruleIds ??= new Set(FAMILIES.flatMap((family) => family.rules.map((rule) => rule.id)));
  return ruleIds;
};

const fromSet = (known: ReadonlySet<string>, value: unknown): string =>
  typeof value === "string" && known.has(value) ? value : OTHER;

/** `batch/Job`, `Pod`, … for a known kind, else `other`. Long strings are never concatenated. */
export function kindLabel(group: unknown, kind: unknown): string {
  if (typeof group !== "string" || typeof kind !== "string") return OTHER;
  if (group.length + kind.length + 1 > LONGEST_KIND) return OTHER;
  return fromSet(KNOWN_KINDS, group ? `${group}/${kind}` : kind);
}
export const operationLabel = (operation: unknown): string => fromSet(OPERATIONS, operation);
export const stageLabel = (stage: unknown): string => fromSet(STAGES, stage);
export const modeLabel = (mode: unknown): string => fromSet(MODES, mode);
export const ruleLabel = (id: unknown): string => fromSet(knownRuleIds(), id);

type LabelValues = Record<string, string | number>;
type Guards = Readonly<Record<string, (value: unknown) => string>>;

/**
 * Passes every label value given to this metric through its closed set, whoever the caller:
 * `inc`, `dec`, `set`, `observe`, `labels` and `remove`, with labels as an object or in order.
 */
function closeLabels<M extends object>(
  metric: M,
  labelNames: readonly string[],
  guards: Guards,
): M {
  const guardObject = (labels: LabelValues): LabelValues => {
    const safe: LabelValues = { ...labels };
    for (const [name, guard] of Object.entries(guards))
      if (name in safe) safe[name] = guard(safe[name]);
    return safe;
  };
  const guardArgs = (args: unknown[]): unknown[] => {
    const [first] = args;
    if (first !== null && typeof first === "object")
      return [guardObject(first as LabelValues), ...args.slice(1)];
    if (typeof first === "string")
      return args.map((value, i) => {
        const guard = guards[labelNames[i] ?? ""];
        return guard ? guard(value) : value;
      });
    return args;
  };
  const target = metric as Record<string, unknown>;
  for (const method of ["inc", "dec", "set", "observe", "labels", "remove"]) {
    const original = target[method];
    if (typeof original !== "function") continue;
    target[method] = function (this: unknown, ...args: unknown[]) {
      return original.apply(this, guardArgs(args));
    };
  }
  return metric;
}

/** Counts kept in plain numbers, one entry per label set, handed to a counter when scraped. */
class PendingCounts<L extends string> {
  /**
   * By each of the four label values in turn: no key string is joined, and hashed, per count
   * (the values come from closed sets, so their hashes are already known).
   */
  private readonly tree = new Map<string, Map<string, Map<string, Map<string, Pending<L>>>>>();
  private readonly entries: Pending<L>[] = [];

  /** One more for the label set `a, b, c, d`; `labels` is called only the first time it is seen. */
  add(a: string, b: string, c: string, d: string, labels: () => Record<L, string>): void {
    const inA = branch(this.tree, a);
    const inB = branch(inA, b);
    const inC = branch(inB, c);
    const entry = inC.get(d);
    if (entry) entry.count++;
    else {
      const added = { labels: labels(), count: 1 };
      inC.set(d, added);
      this.entries.push(added);
    }
  }

  flushInto(counter: { inc(labels: Record<L, string>, value: number): void }): void {
    for (const entry of this.entries) {
      if (entry.count > 0) counter.inc(entry.labels, entry.count);
      entry.count = 0;
    }
  }
}

type Pending<L extends string> = { readonly labels: Record<L, string>; count: number };

function branch<K, V>(map: Map<K, Map<string, V>>, key: K): Map<string, V> {
  let found = map.get(key);
  if (!found) {
    found = new Map();
    map.set(key, found);
  }
  return found;
}

/** Prometheus metrics of one webhook process (its own registry, so tests can make many). */
export class Metrics {
  readonly registry = new Registry();

  /**
   * Counted in plain numbers on the hot path and handed to prom-client when scraped: a
   * prom-client increment per request costs more than judging the request, and one per rule
   * per request was the hot path's largest cost after the rules themselves.
   */
  private readonly pendingRequests = new PendingCounts<
    "stage" | "kind" | "operation" | "allowed"
  >();
  private readonly pendingVerdicts = new PendingCounts<"stage" | "rule" | "mode" | "verdict">();

  readonly admissionRequests: Counter<"stage" | "kind" | "operation" | "allowed"> = (() => {
    const pending = this.pendingRequests;
    return new Counter({
      name: `${PREFIX}admission_requests_total`,
      help: "Admission requests answered, by endpoint, kind, operation and outcome.",
      labelNames: ["stage", "kind", "operation", "allowed"] as const,
      registers: [this.registry],
      collect() {
        pending.flushInto(this);
      },
    });
  })();

  readonly ruleVerdicts: Counter<"stage" | "rule" | "mode" | "verdict"> = (() => {
    const pending = this.pendingVerdicts;
    return closeLabels(
      new Counter({
        name: `${PREFIX}rule_verdicts_total`,
        help: "Rule verdicts on admission, by rule id, mode and verdict (pass, fail, patch).",
        labelNames: ["stage", "rule", "mode", "verdict"] as const,
        registers: [this.registry],
        collect() {
          pending.flushInto(this);
        },
      }),
      ["stage", "rule", "mode", "verdict"],
      { stage: stageLabel, rule: ruleLabel, mode: modeLabel },
    );
  })();

  readonly admissionDuration = closeLabels(
    new Histogram({
      name: `${PREFIX}admission_duration_seconds`,
      help: "Time from a decoded AdmissionReview to its answer, made (it is written with the others of its event-loop turn).",
      labelNames: ["stage"] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    }),
    ["stage"],
    { stage: stageLabel },
  );

  /** `kind` is already a closed label (see kindLabel) when recordAdmission counts a patch. */
  readonly patches = new Counter({
    name: `${PREFIX}patches_total`,
    help: "Admission responses that carried a JSON Patch, by kind.",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });

  readonly badRequests = new Counter({
    name: `${PREFIX}bad_requests_total`,
    help: "Requests refused before any rule ran (malformed, oversized, wrong type).",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });

  readonly apiCalls = new Counter({
    name: `${PREFIX}api_calls_total`,
    help: "Requests sent to the Kubernetes API server, by verb and resource.",
    labelNames: ["verb", "resource"] as const,
    registers: [this.registry],
  });

  readonly reportsWritten = new Counter({
    name: `${PREFIX}policy_reports_written_total`,
    help: "PolicyReport objects written by the background audit, by operation (create, update, delete).",
    labelNames: ["operation"] as const,
    registers: [this.registry],
  });

  readonly auditResults = closeLabels(
    new Gauge({
      name: `${PREFIX}audit_results`,
      help: "Results of the last background audit, by rule and result (pass, fail, warn).",
      labelNames: ["rule", "result"] as const,
      registers: [this.registry],
    }),
    ["rule", "result"],
    { rule: ruleLabel },
  );

  readonly connectionsOpen = new Gauge({
    name: `${PREFIX}connections_open`,
    help: "Connections open on the admission port (TLS handshakes included).",
    registers: [this.registry],
  });

  readonly connectionsShed = new Counter({
    name: `${PREFIX}connections_shed_total`,
    help: "Connections the webhook closed early: at the cap, the one idle longest (evicted-idle) or the new one when none was idle (refused); or no request in time (no-request).",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });

  readonly auditRuns = new Counter({
    name: `${PREFIX}audit_runs_total`,
    help: "Background audit runs, by outcome (ok, error).",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });

  private readonly durationHistograms = new Map<string, { observe(value: number): void }>();

  constructor() {
    // The event-loop lag histogram samples with a timer: prom-client's 10 ms woke an idle
    // webhook about 200 times a second. Every 50 ms still sees any stall (it delays the
    // pending sample by its whole length) and wakes it 20 times.
    collectDefaultMetrics({
      register: this.registry,
      prefix: PREFIX,
      eventLoopMonitoringPrecision: 50,
    });
  }

  /** Sync state and object counts, read from the view whenever metrics are scraped. */
  watchClusterView(view: ClusterView): void {
    new Gauge({
      name: `${PREFIX}cluster_view_synced`,
      help: "1 when the cluster view has synced with its source, else 0.",
      registers: [this.registry],
      collect() {
        this.set(view.isSynced() ? 1 : 0);
      },
    });
    new Gauge({
      name: `${PREFIX}cluster_view_objects`,
      help: "Objects held by the cluster view, by kind.",
      labelNames: ["kind"] as const,
      registers: [this.registry],
      collect() {
        this.set({ kind: "NebulaCluster" }, view.nebulaClusters().length);
      },
    });
  }

  recordAdmission(
    endpoint: string,
    request: AdmissionRequest,
    admission: Admission,
    seconds: number,
  ): void {
    // Closed labels before anything else: the map below holds one entry per label set.
    const stage = stageLabel(endpoint);
    const kind = kindLabel(request.group, request.kind);
    const operation = operationLabel(request.operation);
    const allowed = admission.response.allowed ? "true" : "false";
    this.pendingRequests.add(stage, kind, operation, allowed, () => ({
      stage,
      kind,
      operation,
      allowed,
    }));
    let histogram = this.durationHistograms.get(stage);
    if (!histogram) {
      histogram = this.admissionDuration.labels({ stage });
      this.durationHistograms.set(stage, histogram);
    }
    histogram.observe(seconds);
    if (admission.response.patch) this.patches.inc({ kind });
    for (const { rule, mode, findings } of admission.results) {
      // Each stage counts what it acts on: /mutate its patches, /validate its judgements.
      const patched = findings.some((f) => f.type === "mutation");
      const failed = findings.some((f) => f.type === "violation");
      if (stage === "mutate" && patched) this.countVerdict(stage, rule.id, mode, "patch");
      if (stage === "validate") this.countVerdict(stage, rule.id, mode, failed ? "fail" : "pass");
    }
  }

  /** Labels from closed sets only: the rule id and mode come from the registry and config. */
  private countVerdict(stage: string, rule: string, mode: string, verdict: string): void {
    this.pendingVerdicts.add(stage, rule, mode, verdict, () => ({
      stage,
      rule: ruleLabel(rule),
      mode: modeLabel(mode),
      verdict,
    }));
  }
}
