import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { ClusterView } from "../cluster-view/cluster-view.js";
import type { Config } from "../config/config.js";
import type { Metrics } from "../metrics.js";
import { admissionStage, createAdmissionEndpoint } from "./admission-endpoint.js";
import { createApp } from "./app.js";
import type { CertificateSource } from "./certificate-source.js";

export interface ServeOptions {
  readonly host: string;
  readonly port: number;
  readonly certificates: CertificateSource;
  readonly maxBodyBytes: number;
  readonly config: Config;
  readonly view: ClusterView;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly onGuardedAdmission?: () => void;
}

export interface RunningServer {
  readonly server: Server;
  readonly port: number;
  /** The CA that signed the serving certificate, when the webhook made it. */
  readonly caPem: string | undefined;
  /**
   * Turns readiness off, keeps serving for `delayMs`, then stops taking connections and
   * lets in-flight requests finish (at most `graceMs`), then resolves.
   */
  close(graceMs?: number, delayMs?: number): Promise<void>;
}

export type ServeResult = { ok: true; running: RunningServer } | { ok: false; reason: string };

const TLS_OPTIONS = { minVersion: "TLSv1.2" } as const;

/** Starts the HTTPS admission server; the certificate source decides where TLS comes from. */
export async function serve(options: ServeOptions): Promise<ServeResult> {
  const { logger } = options;
  const initial = await options.certificates.start();
  if (!initial.ok) return initial;
  logger.info({ certificates: options.certificates.describe }, "serving certificate ready");

  let closing = false;
  const app = createApp({ ...options, isReady: () => options.view.isSynced() && !closing });
  const admission = createAdmissionEndpoint(options);
  const server = createServer({ ...TLS_OPTIONS, ...initial.pair }, (req, res) => {
    const stage = admissionStage(req);
    if (stage) admission(req, res, stage);
    else app(req, res);
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 60_000;
  const stopWatching = options.certificates.watch((next) =>
    server.setSecureContext({ ...TLS_OPTIONS, ...next }),
  );

  const listening = await new Promise<{ ok: true } | { ok: false; reason: string }>((resolve) => {
    server.once("error", (error) =>
      resolve({
        ok: false,
        reason: `cannot listen on ${options.host}:${options.port}: ${error.message}`,
      }),
    );
    server.listen(options.port, options.host, () => resolve({ ok: true }));
  });
  if (!listening.ok) return listening;
  const port = (server.address() as AddressInfo).port;
  logger.info({ host: options.host, port }, "serving admission webhooks");

  return {
    ok: true,
    running: {
      server,
      port,
      caPem: initial.caPem,
      async close(graceMs = 10_000, delayMs = 0) {
        // Not ready at once, but still serving while endpoints drop this pod; then stop
        // taking connections and let in-flight requests finish, cutting only after graceMs.
        closing = true;
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        stopWatching();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const forced = setTimeout(() => server.closeAllConnections(), graceMs);
        await closed;
        clearTimeout(forced);
        await options.view.stop();
      },
    },
  };
}
