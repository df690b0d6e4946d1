import { statSync } from "node:fs";
import {
  type ApiConstructor,
  type ApiType,
  type KubeConfig,
  type RequestContext,
  Watch,
} from "@kubernetes/client-node";

type Dispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>;

interface SharedPool {
  /** What the pool's TLS settings were made from (see `connectionKey`). */
  key: string;
  dispatcher: Dispatcher;
}

const keptAlive = new WeakMap<KubeConfig, KubeConfig>();
const pools = new WeakMap<KubeConfig, SharedPool>();

/**
 * An API client of `kubeConfig` whose requests share one kept-alive connection pool with
 * every other client (and watch) made here from the same KubeConfig. Use this instead of
 * `kubeConfig.makeApiClient(Api)`.
 *
 * Why: @kubernetes/client-node 2.x builds a new undici Agent in
 * `KubeConfig.applySecurityAuthentication` for every request, so every API call opens a new
 * TCP connection and TLS handshake (with the client certificate) and leaves the socket open
 * until it idles out: a restore's Secret GET cost a handshake, and under load hundreds of
 * sockets stayed open (bench/README.md, "One connection pool").
 */
export function apiClient<T extends ApiType>(kubeConfig: KubeConfig, Api: ApiConstructor<T>): T {
  return sharedConnections(kubeConfig).makeApiClient(Api);
}

/** A client-node Watch over the same shared connection pool as `apiClient`. */
export function apiWatch(kubeConfig: KubeConfig): Watch {
  return new Watch(sharedConnections(kubeConfig));
}

/** Closes the shared pool of `kubeConfig` (in-flight requests finish first). */
export async function closeApiConnections(kubeConfig: KubeConfig): Promise<void> {
  const pool = pools.get(kubeConfig);
  pools.delete(kubeConfig);
  await pool?.dispatcher.close().catch(() => {});
}

/**
 * `kubeConfig` as client-node reads it (same clusters, users, authenticators, token refresh),
 * except that requests go through one shared dispatcher. client-node still computes the
 * headers and builds its dispatcher for each request; the first one is kept and used for
 * all, and the later ones, which never connected, are dropped. When the TLS material changes
 * (a rotated certificate file), the next request starts a new pool and the old one closes.
 */
function sharedConnections(kubeConfig: KubeConfig): KubeConfig {
  let shared = keptAlive.get(kubeConfig);
  if (!shared) {
    const applySecurityAuthentication = async (context: RequestContext): Promise<void> => {
      await kubeConfig.applySecurityAuthentication(context);
      const fresh = context.getDispatcher();
      if (fresh === undefined) return; // no TLS settings: undici's global pool, already shared
      const key = connectionKey(kubeConfig);
      const pool = pools.get(kubeConfig);
      if (pool?.key === key) {
        context.setDispatcher(pool.dispatcher);
        return;
      }
      pools.set(kubeConfig, { key, dispatcher: fresh });
      pool?.dispatcher.close().catch(() => {});
    };
    // A KubeConfig in every respect (makeApiClient, Watch and getCurrentCluster read it
    // through the prototype) but for where its requests are sent from.
    shared = Object.create(kubeConfig, {
      applySecurityAuthentication: { value: applySecurityAuthentication },
    }) as KubeConfig;
    keptAlive.set(kubeConfig, shared);
  }
  return shared;
}

/**
 * Everything client-node makes a dispatcher's TLS settings from: the server, proxy and
 * verification settings, and the CA, client certificate and key, inline or as files (a file
 * by its path, modification time and size, so a rotated file counts as a change).
 */
function connectionKey(kubeConfig: KubeConfig): string {
  const cluster = kubeConfig.getCurrentCluster();
  const user = kubeConfig.getCurrentUser();
  return [
    cluster?.name,
    cluster?.server,
    cluster?.proxyUrl,
    cluster?.skipTLSVerify,
    cluster?.tlsServerName,
    cluster?.caData,
    fileStamp(cluster?.caFile),
    user?.name,
    user?.certData,
    fileStamp(user?.certFile),
    user?.keyData,
    fileStamp(user?.keyFile),
  ].join("\u0000");
}

function fileStamp(file: string | undefined): string {
  if (!file) return "";
  try {
    const stat = statSync(file);
    return `${file}@${stat.mtimeMs}/${stat.size}`;
  } catch {
    return file;
  }
}
