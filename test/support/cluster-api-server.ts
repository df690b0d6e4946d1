/**
 * A stand-in for the part of kube-apiserver the live cluster view uses, over HTTPS with a
 * client certificate (as the webhook's kubeconfig has it): Secret GETs, and NebulaClusters
 * listed in pages (`limit`/`continue`) and watched from a resourceVersion, with the "410
 * Gone" of a compacted history. It counts TLS connections, which a real API server cannot be
 * asked for, and can hold a list page back, end watches, or fail lists on cue.
 */
import { writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import { join } from "node:path";
import { generateCertificates } from "../../src/server/certificates.js";
import { issueClientCertificate } from "./tls.js";

type Json = Record<string, unknown>;

export interface SeenRequest {
  /** Without PROXY_PREFIX, when the request came through it. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Whether the request's path started with PROXY_PREFIX. */
  readonly proxied: boolean;
}

/**
 * A path the server is also served under, as an API server behind a proxy that routes by
 * path is (Rancher's `/k8s/clusters/<id>`): a kubeconfig's server URL then ends with it.
 */
export const PROXY_PREFIX = "/k8s/clusters/c-bench";

interface WatchEvent {
  readonly resourceVersion: number;
  readonly type: "ADDED" | "MODIFIED" | "DELETED";
  readonly object: Json;
}

export interface ClusterApiServer {
  readonly port: number;
  /** TLS connections accepted so far. */
  readonly connections: () => number;
  /** Every request, in order. */
  readonly requests: SeenRequest[];
  /** NebulaCluster list pages asked for, and watches opened. */
  lists(): SeenRequest[];
  watches(): SeenRequest[];
  /**
   * With `proxied`, the server URL ends with PROXY_PREFIX; with `proxyUrl`, the cluster is
   * reached through that forward proxy (a kubeconfig's `proxy-url`).
   */
  kubeconfig(dir: string, proxied?: boolean, proxyUrl?: string): Promise<string>;
  /** Creates or replaces a NebulaCluster (an ADDED or MODIFIED event). */
  putCluster(object: Json): void;
  deleteCluster(namespace: string, name: string): void;
  putSecret(namespace: string, name: string, keys: readonly string[]): void;
  /** Creates or replaces a NebulaBackup, as the operator's CRD stores it. */
  putNebulaBackup(object: Json): void;
  /**
   * Forgets the history: a watch from an older resourceVersion than the current one, or a
   * list continued from an older snapshot, gets "410 Gone".
   */
  compact(): void;
  /** Ends every open watch, as kube-apiserver does when its timeout is reached. */
  endWatches(): void;
  /** While set, list pages after the first wait for the returned release function. */
  holdListPagesAfterFirst(): () => void;
  /** Answers NebulaCluster lists with this HTTP status while set (undefined: normally). */
  failLists(status: number | undefined): void;
  /**
   * Drops the connection of the next `count` requests without an answer, as a kept-alive
   * connection closed under a request by a restart or a load balancer.
   */
  dropNext(count: number): void;
  /**
   * Answers the next Secret or NebulaBackup GET with `code` (429 or 503, as an API server
   * asks a client to come back), naming `retryAfterSeconds` in the Status as it does.
   */
  refuseNextRead(code: number, retryAfterSeconds: number): void;
  close(): Promise<void>;
}

const CLUSTERS = "/apis/apps.nebula-graph.io/v1alpha1/nebulaclusters";
const SECRET = /^\/api\/v1\/namespaces\/([^/]+)\/secrets\/([^/]+)$/;
const NEBULA_BACKUP =
  /^\/apis\/apps\.nebula-graph\.io\/v1alpha1\/namespaces\/([^/]+)\/nebulabackups\/([^/]+)$/;

export async function startClusterApiServer(): Promise<ClusterApiServer> {
  const certs = generateCertificates(["localhost"], ["127.0.0.1"]);
  const client = issueClientCertificate(certs.ca, "nebula-br-webhook");
  const clusters = new Map<string, Json>();
  const secrets = new Map<string, Json>();
  const nebulaBackups = new Map<string, Json>();
  const history: WatchEvent[] = [];
  const openWatches = new Set<ServerResponse>();
  const requests: SeenRequest[] = [];
  let resourceVersion = 100;
  let historyStart = 0;
  let connections = 0;
  let hold: Promise<void> | undefined;
  let listStatus: number | undefined;
  let toDrop = 0;
  let readRefusal: { code: number; retryAfterSeconds: number } | undefined;

  /** A failure as kube-apiserver answers it; `retryAfterSeconds` asks the client to come back. */
  const status = (
    res: ServerResponse,
    code: number,
    reason: string,
    retryAfterSeconds?: number,
  ) => {
    const comeBack = retryAfterSeconds !== undefined;
    res.writeHead(code, {
      "content-type": "application/json",
      ...(comeBack ? { "retry-after": String(retryAfterSeconds) } : {}),
    });
    res.end(
      JSON.stringify({
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        reason,
        ...(comeBack ? { details: { retryAfterSeconds } } : {}),
        code,
      }),
    );
  };
  const json = (res: ServerResponse, body: unknown) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const key = (namespace: string, name: string) => `${namespace}/${name}`;
  const withVersion = (object: Json, version: number): Json => ({
    ...object,
    metadata: { ...(object.metadata as Json), resourceVersion: String(version) },
  });
  const emit = (type: WatchEvent["type"], object: Json) => {
    const event = { resourceVersion, type, object };
    history.push(event);
    for (const res of openWatches) res.write(`${JSON.stringify({ type, object })}\n`);
  };

  const list = async (query: URLSearchParams, res: ServerResponse) => {
    if (listStatus !== undefined) return status(res, listStatus, "InternalError");
    const limit = Number(query.get("limit") ?? 0) || Number.MAX_SAFE_INTEGER;
    const token = query.get("continue");
    if (token && hold) await hold;
    const [offsetText, versionText] = (token ?? `0:${resourceVersion}`).split(":");
    const offset = Number(offsetText);
    if (token && Number(versionText) < historyStart) return status(res, 410, "Expired");
    const all = [...clusters.keys()].sort().map((k) => clusters.get(k) as Json);
    const items = all.slice(offset, offset + limit);
    const next = offset + limit < all.length ? `${offset + limit}:${versionText}` : undefined;
    json(res, {
      apiVersion: "apps.nebula-graph.io/v1alpha1",
      kind: "NebulaClusterList",
      metadata: { resourceVersion: versionText, ...(next ? { continue: next } : {}) },
      items,
    });
  };

  const watch = (query: URLSearchParams, res: ServerResponse) => {
    const from = Number(query.get("resourceVersion") ?? 0);
    res.writeHead(200, { "content-type": "application/json" });
    res.flushHeaders(); // as kube-apiserver does: the watch is open before any event
    if (from < historyStart) {
      const gone = { kind: "Status", apiVersion: "v1", status: "Failure", reason: "Expired" };
      res.end(`${JSON.stringify({ type: "ERROR", object: { ...gone, code: 410 } })}\n`);
      return;
    }
    for (const event of history) {
      if (event.resourceVersion > from)
        res.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
    }
    openWatches.add(res);
    const seconds = Number(query.get("timeoutSeconds") ?? 0);
    const timer = seconds > 0 ? setTimeout(() => res.end(), seconds * 1000) : undefined;
    res.on("close", () => {
      clearTimeout(timer);
      openWatches.delete(res);
    });
  };

  const server: Server = createServer(
    {
      key: certs.serving.key,
      cert: certs.serving.cert,
      ca: certs.ca.cert,
      requestCert: true,
      rejectUnauthorized: true,
      // kube-apiserver's IdleTimeout: an idle connection is kept 90 s, not Node's 5 s.
      keepAliveTimeout: 90_000,
    },
    (req: IncomingMessage, res: ServerResponse) => {
      // Go's server sends no "Keep-Alive: timeout=…" hint, which clients would go by; Node
      // adds one unless the response names its Connection itself.
      res.setHeader("connection", "keep-alive");
      if (toDrop > 0) {
        toDrop--;
        req.socket.destroy();
        return;
      }
      const proxied = (req.url ?? "").startsWith(`${PROXY_PREFIX}/`);
      const url = new URL(
        proxied ? (req.url ?? "").slice(PROXY_PREFIX.length) : (req.url ?? "/"),
        "https://127.0.0.1",
      );
      requests.push({ path: url.pathname, query: url.searchParams, proxied });
      for (const [pattern, stored] of [
        [SECRET, secrets],
        [NEBULA_BACKUP, nebulaBackups],
      ] as const) {
        const named = url.pathname.match(pattern);
        if (req.method !== "GET" || !named) continue;
        if (readRefusal) {
          const { code, retryAfterSeconds } = readRefusal;
          readRefusal = undefined;
          const reason = code === 429 ? "TooManyRequests" : "ServiceUnavailable";
          return status(res, code, reason, retryAfterSeconds);
        }
        const found = stored.get(key(named[1] as string, named[2] as string));
        return found ? json(res, found) : status(res, 404, "NotFound");
      }
      if (req.method === "GET" && url.pathname === CLUSTERS) {
        if (url.searchParams.get("watch") === "true") return watch(url.searchParams, res);
        return void list(url.searchParams, res);
      }
      status(res, 404, "NotFound");
    },
  );
  server.on("secureConnection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const b64 = (text: string) => Buffer.from(text).toString("base64");

  const seen = (predicate: (r: SeenRequest) => boolean) => () =>
    requests.filter((r) => r.path === CLUSTERS && predicate(r));
  return {
    port,
    connections: () => connections,
    requests,
    lists: seen((r) => r.query.get("watch") !== "true"),
    watches: seen((r) => r.query.get("watch") === "true"),
    async kubeconfig(dir, proxied = false, proxyUrl = undefined) {
      const file = join(
        dir,
        `kubeconfig-${port}${proxied ? "-proxied" : ""}${proxyUrl ? "-via-proxy" : ""}`,
      );
      const proxy = proxyUrl ? `, proxy-url: "${proxyUrl}"` : "";
      await writeFile(
        file,
        `apiVersion: v1
kind: Config
clusters:
- name: stand-in
  cluster: {server: "https://127.0.0.1:${port}${proxied ? PROXY_PREFIX : ""}", certificate-authority-data: ${b64(certs.ca.cert)}${proxy}}
users:
- name: webhook
  user: {client-certificate-data: ${b64(client.cert)}, client-key-data: ${b64(client.key)}}
contexts:
- name: stand-in
  context: {cluster: stand-in, user: webhook}
current-context: stand-in
`,
      );
      return file;
    },
    putCluster(object) {
      const metadata = object.metadata as { namespace: string; name: string };
      const k = key(metadata.namespace, metadata.name);
      const type = clusters.has(k) ? "MODIFIED" : "ADDED";
      resourceVersion++;
      const stored = withVersion(object, resourceVersion);
      clusters.set(k, stored);
      emit(type, stored);
    },
    deleteCluster(namespace, name) {
      const stored = clusters.get(key(namespace, name));
      if (!stored) return;
      clusters.delete(key(namespace, name));
      resourceVersion++;
      emit("DELETED", withVersion(stored, resourceVersion));
    },
    putSecret(namespace, name, keys) {
      secrets.set(key(namespace, name), {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name, namespace, resourceVersion: String(resourceVersion) },
        data: Object.fromEntries(keys.map((k) => [k, b64("not-a-real-value")])),
      });
    },
    putNebulaBackup(object) {
      const metadata = object.metadata as { namespace: string; name: string };
      nebulaBackups.set(key(metadata.namespace, metadata.name), object);
    },
    compact() {
      historyStart = resourceVersion;
      history.length = 0;
    },
    endWatches() {
      for (const res of openWatches) {
        openWatches.delete(res);
        res.end();
      }
    },
    holdListPagesAfterFirst() {
      let release = () => {};
      hold = new Promise<void>((resolve) => {
        release = () => {
          hold = undefined;
          resolve();
        };
      });
      return release;
    },
    failLists(code) {
      listStatus = code;
    },
    dropNext(count) {
      toDrop = count;
    },
    refuseNextRead(code, retryAfterSeconds) {
      readRefusal = { code, retryAfterSeconds };
    },
    async close() {
      for (const res of openWatches) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
