import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { ClusterView } from "../cluster-view/cluster-view.js";
import type { Config } from "../config/config.js";
import type { Metrics } from "../metrics.js";
import { admissionStage, createAdmissionEndpoint } from "./admission-endpoint.js";
import { createApp } from "./app.js";
import type { CertificateSource } from "./certificate-source.js";
import type { CertificatePair } from "./certificates.js";
import { guardConnections } from "./connection-guard.js";

export interface ServeOptions {
  readonly host: string;
  readonly port: number;
  readonly certificates: CertificateSource;
  readonly maxBodyBytes: number;
  readonly config: Config;
  readonly view: ClusterView;
  /**
   * Start-up work that holds the process (a garbage collection), run once the serving
   * certificate is ready and before the port opens: no connection, probe or admission can be
   * waiting on the process while it runs.
   */
  readonly beforeListening?: () => void;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly onGuardedAdmission?: () => void;
  /** Timeouts and caps for connections; the defaults unless given. */
  readonly limits?: Partial<ConnectionLimits>;
  /**
   * Mutual TLS: the CA (PEM) whose certificates clients must present on the HTTPS port; a
   * client without one is refused during the handshake.
   */
  readonly clientCa?: string;
  /**
   * Also serve /healthz, /readyz and /metrics (never /validate or /mutate) over plain HTTP on
   * this port, for kubelet probes and Prometheus, which hold no client certificate.
   */
  readonly metricsPort?: number;
}

/** How long a connection may take at each step, and how many may be open. */
export interface ConnectionLimits {
  /** From TCP connect to a finished TLS handshake. */
  readonly handshakeTimeoutMs: number;
  /** From the start of a request to its last header. */
  readonly headersTimeoutMs: number;
  /** From the start of a request to its last body byte (not the answer: that is the deadline's). */
  readonly requestTimeoutMs: number;
  /**
   * How long a connection to the HTTPS port may wait, idle, for its next request. Longer than the API server
   * keeps an idle connection to a webhook (90 s): then the API server closes first, never
   * sends on a connection we are closing, and a create after a quiet minute needs no new
   * TLS handshake (two for a Job, /mutate and /validate).
   */
  readonly keepAliveTimeoutMs: number;
  /** Connections open at once on the HTTPS port; past it the idle longest is closed. */
  readonly maxConnections: number;
  /** Then the connection is closed after its answer, so that clients spread over replicas. */
  readonly maxRequestsPerSocket: number;
}

/**
 * The API server sends its AdmissionReview at once and waits at most timeoutSeconds (5 s in
 * the shipped configuration, 10 s when unset, 30 s at most) for the answer: a request that
 * takes longer than that to arrive has no caller left. Timeouts are checked every second.
 */
export const DEFAULT_LIMITS: ConnectionLimits = {
  handshakeTimeoutMs: 5_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 15_000,
  keepAliveTimeoutMs: 120_000,
  maxConnections: 512,
  maxRequestsPerSocket: 1_000,
};
const CHECK_INTERVAL_MS = 1_000;
/** While shutting down, how often connections that finished their request are closed. */
const IDLE_SWEEP_MS = 100;
/** The plain-HTTP port answers kubelet and Prometheus: a few connections are plenty. */
const METRICS_MAX_CONNECTIONS = 32;
/**
 * Its clients are not the API server: a scraper that keeps connections longer would only hold
 * some of those 32 (past them, kubelet's probes are refused).
 */
const METRICS_KEEP_ALIVE_MS = 5_000;

export interface RunningServer {
  readonly server: Server;
  readonly port: number;
  /** The plain-HTTP port of /healthz, /readyz and /metrics, when asked for. */
  readonly metricsPort: number | undefined;
  /** The CA that signed the serving certificate, when the webhook made it (the current one). */
  readonly caPem: string | undefined;
  /**
   * Turns readiness off, keeps serving for `delayMs`, then stops taking connections and
   * lets in-flight requests finish (at most `graceMs`), then resolves.
   */
  close(graceMs?: number, delayMs?: number): Promise<void>;
}

export type ServeResult = { ok: true; running: RunningServer } | { ok: false; reason: string };

/**
 * Forward-secret suites only: TLS 1.3 (all of whose suites are) and, for TLS 1.2, ECDHE key
 * exchange with AEAD ciphers. No static RSA key exchange, no CBC. Go's TLS client (the API
 * server's) offers these by default.
 */
export const FORWARD_SECRET_CIPHERS = [
  "TLS_AES_128_GCM_SHA256",
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

const TLS_OPTIONS = {
  minVersion: "TLSv1.2",
  ciphers: FORWARD_SECRET_CIPHERS,
  honorCipherOrder: true,
} as const;

/** Everything a secure context is made of, for the first one and each renewal alike. */
function secureContextOptions(pair: CertificatePair, clientCa: string | undefined) {
  const clientAuth = clientCa
    ? { ca: clientCa, requestCert: true, rejectUnauthorized: true }
    : { requestCert: false, rejectUnauthorized: false };
  return { ...TLS_OPTIONS, ...clientAuth, ...pair };
}

/** Starts the HTTPS admission server; the certificate source decides where TLS comes from. */
export async function serve(options: ServeOptions): Promise<ServeResult> {
  const { logger } = options;
  const initial = await options.certificates.start();
  if (!initial.ok) return initial;
  logger.info({ certificates: options.certificates.describe }, "serving certificate ready");

  let closing = false;
  const app = createApp({
    ...options,
    isReady: () => options.view.isSynced() && !closing,
  });
  const admission = createAdmissionEndpoint(options);
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const server = createServer(
    {
      ...secureContextOptions(initial.pair, options.clientCa),
      handshakeTimeout: limits.handshakeTimeoutMs,
      headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: CHECK_INTERVAL_MS,
    },
    (req, res) => {
      // Shutting down: answer, then close the connection (Connection: close), so that the API
      // server moves to the other replicas at once instead of on its next request finding the
      // connection closed under it.
      if (closing) res.shouldKeepAlive = false;
      const stage = admissionStage(req);
      if (stage) admission(req, res, stage);
      else app(req, res);
    },
  );
  server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
  guardConnections(server, {
    max: limits.maxConnections,
    firstRequestTimeoutMs: limits.headersTimeoutMs,
    onShed: (reason) => options.metrics.connectionsShed.inc({ reason }),
    onCount: (open) => options.metrics.connectionsOpen.set(open),
  });
  let caPem = initial.caPem;
  const stopWatching = options.certificates.watch((next, nextCa) => {
    server.setSecureContext(secureContextOptions(next, options.clientCa));
    caPem = nextCa ?? caPem;
  });

  options.beforeListening?.();
  const listening = await listen(server, options.host, options.port);
  if (!listening.ok) {
    stopWatching();
    return listening;
  }
  const port = (server.address() as AddressInfo).port;
  logger.info(
    { host: options.host, port, mutualTls: !!options.clientCa },
    "serving admission webhooks",
  );

  let metricsServer: HttpServer | undefined;
  if (options.metricsPort !== undefined) {
    metricsServer = createHttpServer(
      {
        headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
        requestTimeout: limits.requestTimeoutMs,
        keepAliveTimeout: METRICS_KEEP_ALIVE_MS,
        connectionsCheckingInterval: CHECK_INTERVAL_MS,
      },
      app,
    );
    metricsServer.maxConnections = METRICS_MAX_CONNECTIONS;
    const served = await listen(metricsServer, options.host, options.metricsPort);
    if (!served.ok) {
      stopWatching();
      server.close();
      return served;
    }
    logger.info(
      { host: options.host, port: (metricsServer.address() as AddressInfo).port },
      "serving /healthz, /readyz and /metrics over plain HTTP",
    );
  }
  const metricsPort = metricsServer ? (metricsServer.address() as AddressInfo).port : undefined;

  return {
    ok: true,
    running: {
      server,
      port,
      metricsPort,
      get caPem() {
        return caPem;
      },
      async close(graceMs = 10_000, delayMs = 0) {
        // Not ready at once, but still serving while endpoints drop this pod; then stop
        // taking connections and let in-flight requests finish, cutting only after graceMs.
        closing = true;
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        stopWatching();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        // A connection busy now is idle once its answer is sent: close it then, not when its
        // keep-alive (longer than the API server's) runs out.
        const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
        const forced = setTimeout(() => server.closeAllConnections(), graceMs);
        await closed;
        clearInterval(sweep);
        clearTimeout(forced);
        if (metricsServer) {
          const stopped = new Promise<void>((resolve) => metricsServer?.close(() => resolve()));
          metricsServer.closeAllConnections();
          await stopped;
        }
        await options.view.stop();
      },
    },
  };
}

function listen(
  server: Server | HttpServer,
  host: string,
  port: number,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  return new Promise((resolve) => {
    server.once("error", (error) =>
      resolve({ ok: false, reason: `cannot listen on ${host}:${port}: ${error.message}` }),
    );
    server.listen(port, host, () => resolve({ ok: true }));
  });
}
