import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { ClusterView } from "../cluster-view/cluster-view.js";
import type { Config } from "../config/config.js";
import { kubeLeaseStore } from "../kube/lease-store.js";
import type { Metrics } from "../metrics.js";
import { registerAuditLeaderGauge } from "./audit-metrics.js";
import type { AuditResults } from "./audit-results.js";
import { LeaderElection, timingsFor } from "./leader-election.js";
import { namespaceReports, type PolicyReport } from "./policy-report.js";
import { PolicyReportWriter } from "./report-writer.js";
import { runAudit } from "./run-audit.js";

export interface BackgroundAuditOptions {
  readonly kubeConfig: KubeConfig;
  readonly view: ClusterView;
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly intervalMs: number;
  /**
   * With several replicas, only the holder of this Lease audits and writes reports. Without
   * it, this process always does (one replica only).
   */
  readonly lease?: {
    readonly namespace: string;
    readonly name: string;
    readonly durationSeconds: number;
  };
}

/**
 * Audits the whole cluster every interval and soon after a change (debounced), writing each
 * namespace's PolicyReport (in parts when it is large). Runs never overlap; a failed run is logged and retried on the
 * next tick. With a Lease, every replica keeps its timer but only the leader runs.
 */
export class BackgroundAudit {
  private readonly writer: PolicyReportWriter;
  private readonly election: LeaderElection | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly options: BackgroundAuditOptions) {
    const { metrics, lease } = options;
    const onApiCall = (verb: string, resource: string) => metrics.apiCalls.inc({ verb, resource });
    if (lease && lease.durationSeconds > 0) {
      this.election = new LeaderElection({
        store: kubeLeaseStore(options.kubeConfig, lease.namespace, lease.name, onApiCall),
        identity: `${process.env.POD_NAME || hostname()}_${randomBytes(4).toString("hex")}`,
        ...timingsFor(lease.durationSeconds),
        logger: options.logger,
        onStartedLeading: () => this.trigger(0),
      });
    }
    registerAuditLeaderGauge(metrics.registry, () => this.isLeader());
    this.writer = new PolicyReportWriter(options.kubeConfig, {
      onApiCall,
      onWrite: (operation) => metrics.reportsWritten.inc({ operation }),
      mayWrite: () => this.isLeader(),
    });
  }

  start(): void {
    this.timer = setInterval(() => this.trigger(0), this.options.intervalMs);
    this.timer.unref();
    this.election?.start();
    this.trigger(1000);
  }

  /** Whether this replica audits: it holds the Lease, or runs without one. */
  isLeader(): boolean {
    return this.election ? this.election.isLeader() : true;
  }

  /** Asks for a run soon; many asks within the delay make one run. */
  trigger(delayMs = 1000): void {
    if (this.stopped) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.runOnce(), delayMs);
    this.debounce.unref();
  }

  async runOnce(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.audit().finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        this.trigger(0);
      }
    });
    return this.running;
  }

  private async audit(): Promise<void> {
    const { view, config, logger, metrics } = this.options;
    if (!view.isSynced() || !this.isLeader()) return;
    const started = Date.now();
    const run = await runAudit(this.options.kubeConfig, view, config, undefined, (verb, resource) =>
      metrics.apiCalls.inc({ verb, resource }),
    );
    if (!run.ok) {
      metrics.auditRuns.inc({ outcome: "error" });
      logger.warn({ reason: run.reason }, "background audit failed");
      return;
    }
    const written = await this.writer.reconcile(allReports(run.results, new Date()));
    if (!written.ok) {
      metrics.auditRuns.inc({ outcome: "error" });
      logger.warn({ reason: written.reason }, "background audit could not write reports");
      return;
    }
    metrics.auditRuns.inc({ outcome: "ok" });
    metrics.auditResults.reset();
    for (const [rule, counts] of run.results.byRule)
      for (const [result, count] of Object.entries(counts))
        if (count > 0) metrics.auditResults.inc({ rule, result }, count);
    logger.info(
      {
        objects: run.objects,
        results: run.results.results,
        ...written.summary,
        ms: Date.now() - started,
      },
      "background audit done",
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    await this.running;
    // After the last write: hand the Lease over so another replica takes over at once.
    await this.election?.stop({ release: true });
  }
}

/** Every namespace's reports, built a namespace and a part at a time as the writer asks. */
function* allReports(results: AuditResults, now: Date): Generator<PolicyReport> {
  for (const namespace of results.namespaces())
    yield* namespaceReports(namespace, results.namespaceEntries(namespace), now);
}
