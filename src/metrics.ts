import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Admission } from "./admission/admit.js";
import type { AdmissionRequest } from "./admission/review.js";
import type { ClusterView } from "./cluster-view/cluster-view.js";

const PREFIX = "nebula_br_webhook_";

/** Prometheus metrics of one webhook process (its own registry, so tests can make many). */
export class Metrics {
  readonly registry = new Registry();

  /**
   * Counted in plain numbers on the hot path and handed to prom-client when scraped: a
   * prom-client increment per request costs more than judging the request.
   */
  private readonly pendingRequests = new Map<
    string,
    { labels: Record<"stage" | "kind" | "operation" | "allowed", string>; count: number }
  >();

  readonly admissionRequests: Counter<"stage" | "kind" | "operation" | "allowed"> = (() => {
    const pending = this.pendingRequests;
    return new Counter({
      name: `${PREFIX}admission_requests_total`,
      help: "Admission requests answered, by endpoint, kind, operation and outcome.",
      labelNames: ["stage", "kind", "operation", "allowed"] as const,
      registers: [this.registry],
      collect() {
        for (const entry of pending.values()) {
          if (entry.count > 0) this.inc(entry.labels, entry.count);
          entry.count = 0;
        }
      },
    });
  })();

  readonly ruleVerdicts = new Counter({
    name: `${PREFIX}rule_verdicts_total`,
    help: "Rule verdicts on admission, by rule id, mode and verdict (pass, fail, patch).",
    labelNames: ["stage", "rule", "mode", "verdict"] as const,
    registers: [this.registry],
  });

  readonly admissionDuration = new Histogram({
    name: `${PREFIX}admission_duration_seconds`,
    help: "Time from a decoded AdmissionReview to its answer.",
    labelNames: ["stage"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

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

  readonly auditResults = new Gauge({
    name: `${PREFIX}audit_results`,
    help: "Results of the last background audit, by rule and result (pass, fail, warn).",
    labelNames: ["rule", "result"] as const,
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
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
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
    stage: string,
    request: AdmissionRequest,
    admission: Admission,
    seconds: number,
  ): void {
    const kind = request.group ? `${request.group}/${request.kind}` : request.kind;
    const allowed = admission.response.allowed ? "true" : "false";
    const key = `${stage}\u0000${kind}\u0000${request.operation}\u0000${allowed}`;
    const entry = this.pendingRequests.get(key);
    if (entry) entry.count++;
    else
      this.pendingRequests.set(key, {
        labels: { stage, kind, operation: request.operation, allowed },
        count: 1,
      });
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
      if (stage === "mutate" && patched)
        this.ruleVerdicts.inc({ stage, rule: rule.id, mode, verdict: "patch" });
      if (stage === "validate")
        this.ruleVerdicts.inc({ stage, rule: rule.id, mode, verdict: failed ? "fail" : "pass" });
    }
  }
}
