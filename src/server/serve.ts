import { writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { ClusterView } from "../cluster-view/cluster-view.js";
import type { Config } from "../config/config.js";
import { createApp } from "./app.js";
import { type CertificatePair, generateCertificates, serviceDnsNames } from "./certificates.js";
import { loadPair, watchPair } from "./tls-source.js";

export interface ServeOptions {
  readonly host: string;
  readonly port: number;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly caOut?: string;
  readonly serviceName: string;
  readonly serviceNamespace: string;
  readonly maxBodyBytes: number;
  readonly config: Config;
  readonly view: ClusterView;
  readonly logger: Logger;
}

export interface RunningServer {
  readonly server: Server;
  readonly port: number;
  /** The CA that signed the serving certificate, when the webhook generated it. */
  readonly caPem: string | undefined;
  /** Stops taking connections, lets in-flight requests finish, then resolves. */
  close(graceMs?: number): Promise<void>;
}

export type ServeResult = { ok: true; running: RunningServer } | { ok: false; reason: string };

const TLS_OPTIONS = { minVersion: "TLSv1.2" } as const;

/** Starts the HTTPS admission server with file-based (reloaded) or generated certificates. */
export async function serve(options: ServeOptions): Promise<ServeResult> {
  const { logger } = options;
  let pair: CertificatePair;
  let caPem: string | undefined;
  if (options.tlsCert && options.tlsKey) {
    const loaded = await loadPair(options.tlsCert, options.tlsKey);
    if (!loaded.ok) return loaded;
    pair = loaded.pair;
  } else if (options.tlsCert || options.tlsKey) {
    return {
      ok: false,
      reason: "give both --tls-cert and --tls-key, or neither to generate a certificate",
    };
  } else {
    const names = [
      "localhost",
      ...serviceDnsNames(
        options.serviceName,
        options.serviceNamespace,
        options.config.clusterDomain,
      ),
    ];
    const generated = generateCertificates(names, ["127.0.0.1", "::1"]);
    pair = generated.serving;
    caPem = generated.ca.cert;
    if (options.caOut) {
      try {
        await writeFile(options.caOut, caPem);
      } catch (error) {
        return {
          ok: false,
          reason: `cannot write the CA to ${options.caOut}: ${(error as Error).message}`,
        };
      }
    }
    logger.info(
      { caOut: options.caOut, notAfter: generated.notAfter },
      "generated a CA and serving certificate",
    );
  }

  let closing = false;
  const app = createApp({ ...options, isReady: () => options.view.isSynced() && !closing });
  const server = createServer({ ...TLS_OPTIONS, ...pair }, app);
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 60_000;
  const stopWatching =
    options.tlsCert && options.tlsKey
      ? watchPair(options.tlsCert, options.tlsKey, logger, (next) =>
          server.setSecureContext({ ...TLS_OPTIONS, ...next }),
        )
      : () => {};

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
      caPem,
      async close(graceMs = 10_000) {
        closing = true;
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
