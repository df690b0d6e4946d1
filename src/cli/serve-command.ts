import { writeFile } from "node:fs/promises";
import { BackgroundAudit } from "../audit/background-audit.js";
import { chooseView } from "../cluster-view/choose-view.js";
import { loadConfig } from "../config/config.js";
import { createLogger, flushLogs } from "../log.js";
import { Metrics } from "../metrics.js";
import { chooseCertificates } from "../server/choose-certificates.js";
import { serve } from "../server/serve.js";

export interface ServeFlags {
  readonly host: string;
  readonly port: number;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly caOut?: string;
  readonly tlsSecret?: string;
  readonly webhookConfiguration?: string;
  readonly clusterState?: string;
  readonly kubeconfig?: string;
  readonly config?: string;
  readonly serviceName: string;
  readonly serviceNamespace: string;
  readonly maxBodyBytes: number;
  readonly secretTimeoutMs: number;
  readonly auditInterval: number;
  readonly auditLeaseDuration: number;
  readonly shutdownGrace: number;
  readonly shutdownDelay: number;
  readonly logLevel: string;
}

/** Wires the parts together: config, cluster view, certificates, server, background audit. */
export async function serveCommand(
  flags: ServeFlags,
  fail: (reason: string) => never,
): Promise<void> {
  const logger = createLogger(flags.logLevel);
  const loaded = await loadConfig(flags.config);
  if (!loaded.ok) fail(loaded.reason);
  const config = loaded.config;
  const metrics = new Metrics();
  let audit: BackgroundAudit | undefined;
  const chosen = await chooseView(
    {
      clusterState: flags.clusterState,
      kubeconfig: flags.kubeconfig,
      inCluster: !flags.clusterState && !flags.kubeconfig && !!process.env.KUBERNETES_SERVICE_HOST,
      secretTimeoutMs: flags.secretTimeoutMs,
      onApiCall: (verb, resource) => metrics.apiCalls.inc({ verb, resource }),
      onClusterChange: () => audit?.trigger(),
    },
    logger,
  );
  if (!chosen.ok) fail(chosen.reason);
  logger.info({ clusterView: chosen.describe }, "cluster view chosen");
  metrics.watchClusterView(chosen.view);

  const certificates = chooseCertificates(flags, config.clusterDomain, logger);
  if (!certificates.ok) fail(certificates.reason);
  const started = await serve({
    host: flags.host,
    port: flags.port,
    certificates: certificates.source,
    maxBodyBytes: flags.maxBodyBytes,
    config,
    view: chosen.view,
    logger,
    metrics,
    onGuardedAdmission: () => audit?.trigger(),
  });
  if (!started.ok) fail(started.reason);
  if (flags.caOut && started.running.caPem) {
    const error = await writeFile(flags.caOut, started.running.caPem).then(
      () => undefined,
      (e: Error) => e.message,
    );
    if (error) fail(`cannot write the CA to ${flags.caOut}: ${error}`);
  }

  if (chosen.kubeConfig && flags.auditInterval > 0) {
    audit = new BackgroundAudit({
      kubeConfig: chosen.kubeConfig,
      view: chosen.view,
      config,
      logger,
      metrics,
      intervalMs: flags.auditInterval * 1000,
      lease: {
        namespace: flags.serviceNamespace,
        name: `${flags.serviceName}-audit`,
        durationSeconds: flags.auditLeaseDuration,
      },
    });
    audit.start();
  }

  const shutdown = (signal: string) => {
    logger.info({ signal }, "shutting down: readiness off, finishing in-flight requests");
    Promise.all([
      audit?.stop(),
      started.running.close(flags.shutdownGrace * 1000, flags.shutdownDelay * 1000),
    ]).then(
      () => flushLogs(logger).then(() => process.exit(0)),
      () => flushLogs(logger).then(() => process.exit(1)),
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}
