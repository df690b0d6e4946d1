import { statSync } from "node:fs";
import type { AgentOptions } from "node:https";
import {
  type ApiConstructor,
  ApiException,
  type ApiType,
  type Cluster,
  HttpMethod,
  type KubeConfig,
  RequestContext,
  Watch,
} from "@kubernetes/client-node";
import { Agent, getGlobalDispatcher, Pool, ProxyAgent } from "undici";
import { socksConnector } from "./socks-connector.js";

type Dispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>;

interface SharedPool {
  /** What the pool's TLS settings were made from (see `connectionKey`). */
  key: string;
  dispatcher: Dispatcher;
}

const keptAlive = new WeakMap<KubeConfig, KubeConfig>();
const pools = new WeakMap<KubeConfig, SharedPool>();

/**
 * How long a connection to the API server is kept while idle. undici's default, 4 s, closed
 * it between two restores a few seconds apart, so a Secret read mostly paid a new TLS
 * handshake with the client certificate (bench/README.md, "The fifth pass"). The API
 * server closes idle connections after 90 s (its IdleTimeout): under that, we close first
 * and never send on a connection the server is closing.
 */
const API_IDLE_KEEP_MS = 60_000;

/**
 * How long a forward proxy (kubeconfig `proxy-url`) may take to answer a CONNECT, or a SOCKS
 * proxy to finish its handshake.
 */
const PROXY_CONNECT_TIMEOUT_MS = 10_000;

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

/**
 * GET `path` (with its query) from the API server and parse the JSON answer: the reads on an
 * admission's path (a restore's Secret, an operator Job's NebulaBackup) and the pages of the
 * lists (the live view's NebulaClusters, the audit's objects). Same pool and authentication
 * as `apiClient`; a status other than 2xx is thrown as client-node's ApiException (`code`,
 * `body`), so api-errors.ts reads it as it reads client-node's. A read whose headers do not
 * come within `timeoutMs`, or whose body stops coming for `timeoutMs`, fails and gives its
 * connection up (undici's headers and body time-outs), rather than holding it for undici's
 * default 300 s after the admission stopped waiting.
 *
 * Why not `apiClient(…).readNamespacedSecret` or its typed lists: client-node sends through
 * undici's fetch, which keeps each response behind a WeakRef and a FinalizationRegistry entry
 * (and its lists copy every object into its model classes). V8's young-generation
 * collections keep WeakRef targets alive, so every read's response, headers
 * and promises were promoted to the old generation: ~1.5 MB per young collection at 1.8 ms a
 * restore, collections of 3.6 ms instead of 0.7, and full ones to free it, pausing whatever
 * admission was running then (bench/README.md, the seventh pass). undici's `request` keeps
 * nothing once the body is read.
 */
export async function getJson(
  kubeConfig: KubeConfig,
  path: string,
  timeoutMs: number,
): Promise<unknown> {
  const server = kubeConfig.getCurrentCluster()?.server;
  if (!server) throw new Error("the kubeconfig names no current cluster");
  // The server may have a path of its own (an API proxy): append, do not resolve.
  const url = new URL(`${server.replace(/\/+$/, "")}${path}`);
  const context = new RequestContext(url.toString(), HttpMethod.GET);
  context.setHeaderParam("Accept", "application/json");
  context.setHeaderParam("User-Agent", USER_AGENT);
  await sharedConnections(kubeConfig).applySecurityAuthentication(context);
  const dispatcher = context.getDispatcher() ?? getGlobalDispatcher();
  const answer = await dispatcher.request({
    origin: url.origin,
    path: `${url.pathname}${url.search}`,
    method: "GET",
    headers: context.getHeaders(),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const text = await answer.body.text();
  if (answer.statusCode < 200 || answer.statusCode > 299)
    throw new ApiException(answer.statusCode, `HTTP ${answer.statusCode}`, text, {});
  try {
    return JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text: it goes nowhere.
    throw new Error("the API server's answer was not JSON");
  }
}

/** Who reads, in the API server's audit log (client-node's generated client said its own). */
const USER_AGENT = "nebula-br-webhook";

/** Closes the shared pool of `kubeConfig` (in-flight requests finish first). */
export async function closeApiConnections(kubeConfig: KubeConfig): Promise<void> {
  const pool = pools.get(kubeConfig);
  pools.delete(kubeConfig);
  await pool?.dispatcher.close().catch(() => {});
}

/** client-node's KubeConfig.createDispatcher, private in its types. */
interface ClientNodeDispatcherMaker {
  createDispatcher(cluster: Cluster | null, agentOptions: AgentOptions): Dispatcher | undefined;
}

/**
 * `kubeConfig` as client-node reads it (same clusters, users, authenticators, token refresh),
 * except that requests go through one shared dispatcher. client-node still computes the
 * headers and asks for its dispatcher for each request: it is given the pool's while the TLS
 * material is unchanged (the first one made is the pool's). When the TLS material changes
 * (a rotated certificate file), the next request starts a new pool and the old one closes.
 * The pool keeps an idle connection API_IDLE_KEEP_MS, not undici's 4 s.
 */
function sharedConnections(kubeConfig: KubeConfig): KubeConfig {
  let shared = keptAlive.get(kubeConfig);
  if (!shared) {
    const applySecurityAuthentication = async (context: RequestContext): Promise<void> => {
      // On `shared`, so that client-node makes its dispatcher with the method below.
      await kubeConfig.applySecurityAuthentication.call(shared, context);
      const fresh = context.getDispatcher();
      if (fresh === undefined) return; // no TLS settings: undici's global pool, already shared
      const pool = pools.get(kubeConfig);
      // The pool's own: createDispatcher found the TLS material unchanged, no need to ask again.
      if (fresh === pool?.dispatcher) return;
      const key = connectionKey(kubeConfig);
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
      // client-node's own, private method (it makes the dispatcher of each request), called
      // on `this`: its direct, proxied (proxy-url) and SOCKS connections keep idle sockets
      // API_IDLE_KEEP_MS.
      createDispatcher: {
        value: (cluster: Cluster | null, agentOptions: AgentOptions) => {
          // client-node asks for one per request: while the TLS material is unchanged, the
          // pool's own (applySecurityAuthentication then keeps it) rather than one to drop.
          const pool = pools.get(kubeConfig);
          if (pool?.key === connectionKey(kubeConfig)) return pool.dispatcher;
          const options = kubeConfig.createDispatcherOptions(cluster, agentOptions);
          if (options.type === "agent")
            return new Agent({ connect: options.connect, keepAliveTimeout: API_IDLE_KEEP_MS });
          if (options.type === "proxy")
            return new ProxyAgent({
              uri: options.uri,
              requestTls: options.requestTls,
              // To the proxy: TCP keep-alive probes after 30 s idle, as client-node asks for
              // direct connections, so a middlebox's idle cut is noticed within the 60 s.
              proxyTls: { keepAlive: true, keepAliveInitialDelay: 30_000 },
              keepAliveTimeout: API_IDLE_KEEP_MS,
              // A proxy that never answers CONNECT fails the request within 10 s, not
              // undici's 300 s: the request's own time-outs start only once tunnelled.
              clientFactory: (origin, clientOptions) =>
                new Pool(origin, { ...clientOptions, headersTimeout: PROXY_CONNECT_TIMEOUT_MS }),
            });
          if (options.type === "socks")
            return new Agent({
              connect: socksConnector(options.uri, options.requestTls, PROXY_CONNECT_TIMEOUT_MS),
              keepAliveTimeout: API_IDLE_KEEP_MS,
            });
          return (kubeConfig as unknown as ClientNodeDispatcherMaker).createDispatcher(
            cluster,
            agentOptions,
          );
        },
      },
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
