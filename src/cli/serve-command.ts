import { readFile, rename, writeFile } from "node:fs/promises";
import { createSecureContext } from "node:tls";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { BackgroundAudit } from "../audit/background-audit.js";
import { chooseView } from "../cluster-view/choose-view.js";
import type { ClusterView } from "../cluster-view/cluster-view.js";
import { loadConfig } from "../config/config.js";
import { loadKubeConfig } from "../kube/kubeconfig.js";
import { createLogger, flushLogs } from "../log.js";
import { Metrics } from "../metrics.js";
import {
  caSource,
  chooseRegistration,
  withOwnNamespace,
} from "../registration/choose-registration.js";
import { apiConfigurationStore } from "../registration/configuration-store.js";
import { type Readiness, type Registration, WebhookRegistrar } from "../registration/registrar.js";
import { serviceEndpointsReady } from "../registration/service-endpoints.js";
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
  readonly registerWebhooks?: boolean;
  readonly webhookUrl?: string;
  readonly failurePolicy: string;
  readonly webhookTimeout: number;
  readonly webhookCheckInterval: number;
  readonly caFile?: string;
  readonly servicePort: number;
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
  readonly clientCa?: string;
  readonly metricsPort?: number;
  readonly maxConnections: number;
  readonly requestTimeout: number;
}

/** The client CA for mutual TLS, read and checked once at start (a restart picks up a new one). */
async function readClientCa(
  flags: ServeFlags,
): Promise<{ ok: true; pem: string | undefined } | { ok: false; reason: string }> {
  if (!flags.clientCa) return { ok: true, pem: undefined };
  if (flags.metricsPort === undefined)
    return {
      ok: false,
      reason:
        "--client-ca needs --metrics-port: kubelet probes and Prometheus hold no client certificate, so /healthz, /readyz and /metrics must be served on a plain-HTTP port",
    };
  try {
    const pem = await readFile(flags.clientCa, "utf8");
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new Error("no PEM certificate in it");
    createSecureContext({ ca: pem });
    return { ok: true, pem };
  } catch (error) {
    return {
      ok: false,
      reason: `cannot use --client-ca ${flags.clientCa}: ${(error as Error).message}`,
    };
  }
}

/**
 * Wires the parts together: config, cluster view, certificates, server, webhook registration,
 * background audit.
 */
export async function serveCommand(
  flags: ServeFlags,
  fail: (reason: string) => never,
): Promise<void> {
  const logger = createLogger(flags.logLevel);
  const loaded = await loadConfig(flags.config);
  if (!loaded.ok) fail(loaded.reason);
  // The webhooks it registers never send objects of its own namespace; the rules agree.
  const config = flags.registerWebhooks
    ? {
        ...loaded.config,
        exemptNamespaces: withOwnNamespace(loaded.config.exemptNamespaces, flags.serviceNamespace),
      }
    : loaded.config;
  const registration = chooseRegistration(flags, config.exemptNamespaces);
  if (!registration.ok) fail(registration.reason);
  if (flags.webhookCheckInterval < 1) fail("--webhook-check-interval must be at least 1 second");
  const clientCa = await readClientCa(flags);
  if (!clientCa.ok) fail(clientCa.reason);
  if (flags.requestTimeout < 1) fail("--request-timeout must be at least 1 second");
  if (flags.maxConnections < 1) fail("--max-connections must be at least 1");
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
  let registrationCluster = chosen.kubeConfig;
  if (registration.registration && !registrationCluster) {
    const cluster = loadKubeConfig(flags.kubeconfig);
    if (cluster.ok) registrationCluster = cluster.kubeConfig;
    else if (registration.registration.kind === "register")
      fail(`--register-webhooks needs a cluster: ${cluster.reason}`);
    else logger.warn({ reason: cluster.reason }, "no cluster: the caBundle is not written");
  }
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
    beforeListening: () => collectStartUpGarbage(logger),
    logger,
    metrics,
    onGuardedAdmission: () => audit?.trigger(),
    clientCa: clientCa.pem,
    metricsPort: flags.metricsPort,
    limits: {
      maxConnections: flags.maxConnections,
      requestTimeoutMs: flags.requestTimeout * 1000,
    },
  });
  if (!started.ok) fail(started.reason);
  if (flags.caOut && started.running.caPem) {
    const error = await writeWhole(flags.caOut, started.running.caPem).then(
      () => undefined,
      (e: Error) => e.message,
    );
    if (error) fail(`cannot write the CA to ${flags.caOut}: ${error}`);
  }

  // With only --webhook-configuration, there is something to write when there is a CA.
  const { registration: chosenRegistration } = registration;
  const hasCa = flags.caFile !== undefined || started.running.caPem !== undefined;
  const registrar =
    chosenRegistration && registrationCluster && (chosenRegistration.kind === "register" || hasCa)
      ? startRegistrar(flags, chosenRegistration, registrationCluster, {
          view: chosen.view,
          ownCa: () => started.running.caPem,
          logger,
          onApiCall: (verb, resource) => metrics.apiCalls.inc({ verb, resource }),
        })
      : undefined;

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
      registrar?.stop(),
      started.running.close(flags.shutdownGrace * 1000, flags.shutdownDelay * 1000),
    ]).then(
      () => flushLogs(logger).then(() => process.exit(0)),
      () => flushLogs(logger).then(() => process.exit(1)),
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

/**
 * The one writer of the webhook configurations: only once this replica answers (its cluster
 * view synced, its server listening with a known certificate, and, behind a Service, a ready
 * endpoint), then again whenever they drift.
 */
function startRegistrar(
  flags: ServeFlags,
  registration: Registration,
  cluster: KubeConfig,
  parts: {
    view: ClusterView;
    ownCa: () => string | undefined;
    logger: Logger;
    onApiCall: (verb: string, resource: string) => void;
  },
): WebhookRegistrar {
  const { view, logger } = parts;
  const serviceReady =
    registration.kind === "register" && "service" in registration.settings.endpoint
      ? serviceEndpointsReady(
          cluster,
          { namespace: flags.serviceNamespace, name: flags.serviceName },
          logger,
        )
      : undefined;
  const registrar = new WebhookRegistrar({
    registration,
    store: apiConfigurationStore(cluster, parts.onApiCall),
    logger,
    caPem: caSource(flags.caFile, parts.ownCa),
    ready: async (): Promise<Readiness> => {
      if (!view.isSynced()) return { ready: false, waitingFor: "the cluster view to sync" };
      return serviceReady ? serviceReady() : { ready: true };
    },
    intervalMs: flags.webhookCheckInterval * 1000,
  });
  registrar.start();
  return registrar;
}

/**
 * One memory-reducing garbage collection at the end of start-up, just before the port opens.
 * Why: compiling and running the bundle's top-level code, reading the cluster state and
 * making a certificate leave garbage and a young generation sized for start-up, which V8 keeps
 * while the webhook idles; collecting them took the image's idle RSS from about 100 to 89 MiB
 * (issue 11). Only V8's "last-resort" collection gives the young generation's pages back, and
 * it holds the process for two full collections of its whole heap, 70 to 100 ms on one core,
 * however little garbage there is: before the port opens, no probe or admission waits on it.
 * A live view's first list comes later and is not collected: its garbage grows the young
 * generation again, as admissions under load do (bench/README.md, the twelfth pass). Only
 * where node runs with --expose-gc, as the image's entrypoint does.
 */
function collectStartUpGarbage(logger: Logger): void {
  const collect = globalThis.gc;
  if (typeof collect !== "function") return;
  const started = performance.now();
  collect({ type: "major", execution: "sync", flavor: "last-resort" });
  logger.debug({ ms: Math.round(performance.now() - started) }, "start-up garbage collected");
}

/**
 * Writes `text` to `file` whole or not at all (a new file, then renamed over it): whoever polls
 * for --ca-out, as a script waiting for the webhook does, never reads it empty or half
 * written. Seen: a client that read it between creation and write trusted no CA and failed.
 */
async function writeWhole(file: string, text: string): Promise<void> {
  const partial = `${file}.${process.pid}.partial`;
  await writeFile(partial, text);
  await rename(partial, file);
}
