/**
 * A stand-in for the parts of the API server the background audit uses: paged lists
 * (`limit` / `continue`) of generated objects, and PolicyReports with resourceVersions,
 * returned with their keys sorted as the real server (Go maps) returns them.
 */

import { writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";

export interface ListRequest {
  readonly resource: string;
  readonly limit: number | undefined;
  readonly continued: boolean;
  readonly items: number;
}

export interface PagingApiServer {
  readonly port: number;
  /** Every list request answered, in order. */
  readonly lists: ListRequest[];
  /** Writes of PolicyReports: create, update, delete, by namespace and name. */
  readonly writes: { verb: string; namespace: string; name: string }[];
  /** Stored PolicyReports by `namespace/name`. */
  readonly reports: Map<string, Record<string, unknown>>;
  kubeconfig(dir: string): Promise<string>;
  close(): Promise<void>;
}

/** Objects served per resource: generated on demand from their index, never all held. */
export type Generator = { count: number; make(index: number): Record<string, unknown> };

const LIST_PATHS: Record<string, string> = {
  "/apis/batch/v1/jobs": "jobs",
  "/apis/batch/v1/cronjobs": "cronjobs",
  "/api/v1/pods": "pods",
  "/apis/apps/v1/deployments": "deployments",
  "/apis/apps/v1/statefulsets": "statefulsets",
  "/apis/apps/v1/replicasets": "replicasets",
  "/apis/apps/v1/daemonsets": "daemonsets",
  "/apis/apps.nebula-graph.io/v1alpha1/nebularestores": "nebularestores",
  "/apis/apps.nebula-graph.io/v1alpha1/nebulabackups": "nebulabackups",
  "/apis/apps.nebula-graph.io/v1alpha1/nebulacronbackups": "nebulacronbackups",
  "/apis/wgpolicyk8s.io/v1alpha2/policyreports": "policyreports",
};

const BUILT_IN = new Set([
  "jobs",
  "cronjobs",
  "pods",
  "deployments",
  "statefulsets",
  "replicasets",
  "daemonsets",
  "policyreports",
]);
const NONE: Generator = { count: 0, make: () => ({}) };

const REPORT_PATH =
  /^\/apis\/wgpolicyk8s\.io\/v1alpha2\/namespaces\/([^/]+)\/policyreports(?:\/([^/]+))?$/;

export async function startPagingApiServer(
  generators: Partial<Record<string, Generator>>,
  options: {
    maxLimit?: number;
    onList?: () => void;
    /** As kube-apiserver's 3 MiB limit on a request body: larger writes get HTTP 413. */
    maxBodyBytes?: number;
  } = {},
): Promise<PagingApiServer> {
  const lists: ListRequest[] = [];
  const writes: { verb: string; namespace: string; name: string }[] = [];
  const reports = new Map<string, Record<string, unknown>>();
  let version = 1000;

  const send = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(sortKeys(body));
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
    });
    res.end(text);
  };
  const status = (res: ServerResponse, code: number, reason: string) =>
    send(res, code, { kind: "Status", apiVersion: "v1", status: "Failure", reason, code });

  const list = (res: ServerResponse, resource: string, url: URL) => {
    options.onList?.();
    const limitParam = url.searchParams.get("limit");
    const limit = limitParam ? Number(limitParam) : undefined;
    const token = url.searchParams.get("continue");
    const offset = token ? Number(Buffer.from(token, "base64url").toString()) : 0;
    let all: { count: number; make(index: number): unknown };
    if (resource === "policyreports") {
      const stored = [...reports.values()];
      all = { count: stored.length, make: (i) => stored[i] };
    } else {
      // Built-in kinds always exist; a custom kind without objects is a CRD not installed.
      const generator = generators[resource] ?? (BUILT_IN.has(resource) ? NONE : undefined);
      if (!generator) return status(res, 404, "NotFound");
      all = generator;
    }
    const pageSize = Math.min(limit ?? all.count, options.maxLimit ?? Number.POSITIVE_INFINITY);
    const end = Math.min(all.count, offset + pageSize);
    const items: unknown[] = [];
    for (let i = offset; i < end; i++) items.push(all.make(i));
    lists.push({ resource, limit, continued: offset > 0, items: items.length });
    send(res, 200, {
      kind: "List",
      apiVersion: "v1",
      metadata: {
        resourceVersion: String(version),
        ...(end < all.count ? { continue: Buffer.from(String(end)).toString("base64url") } : {}),
      },
      items,
    });
  };

  const report = async (
    req: IncomingMessage,
    res: ServerResponse,
    namespace: string,
    name: string | undefined,
  ) => {
    const body = req.method === "POST" || req.method === "PUT" ? await readBody(req) : "";
    if (Buffer.byteLength(body) > (options.maxBodyBytes ?? 3 * 2 ** 20))
      return status(res, 413, "RequestEntityTooLarge");
    const parsed = body ? (JSON.parse(body) as { metadata: Record<string, unknown> }) : undefined;
    const reportName = name ?? String(parsed?.metadata.name ?? "");
    const key = `${namespace}/${reportName}`;
    const current = reports.get(key);
    if (req.method === "DELETE") {
      if (!current) return status(res, 404, "NotFound");
      reports.delete(key);
      writes.push({ verb: "delete", namespace, name: reportName });
      return send(res, 200, { kind: "Status", status: "Success" });
    }
    if (req.method === "GET")
      return current ? send(res, 200, current) : status(res, 404, "NotFound");
    if (!parsed) return status(res, 400, "BadRequest");
    if (req.method === "POST") {
      if (current) return status(res, 409, "AlreadyExists");
      writes.push({ verb: "create", namespace, name: reportName });
    } else if (req.method === "PUT" && name) {
      if (!current) return status(res, 404, "NotFound");
      const currentVersion = (current.metadata as { resourceVersion: string }).resourceVersion;
      if (parsed.metadata.resourceVersion !== currentVersion) return status(res, 409, "Conflict");
      writes.push({ verb: "update", namespace, name: reportName });
    } else return status(res, 405, "MethodNotAllowed");
    const stored = {
      ...parsed,
      metadata: {
        ...parsed.metadata,
        uid: `uid-${key}`,
        generation: 1,
        resourceVersion: String(++version),
      },
    };
    reports.set(key, stored);
    send(res, req.method === "POST" ? 201 : 200, stored);
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://stand-in");
    const resource = LIST_PATHS[url.pathname];
    if (resource && req.method === "GET") return list(res, resource, url);
    const match = url.pathname.match(REPORT_PATH);
    if (match) {
      report(req, res, match[1] as string, match[2]).catch(() => status(res, 500, "InternalError"));
      return;
    }
    status(res, 404, "NotFound");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    lists,
    writes,
    reports,
    async kubeconfig(dir: string) {
      const file = join(dir, `kubeconfig-paging-${port}`);
      await writeFile(
        file,
        `apiVersion: v1
kind: Config
clusters:
- name: stand-in
  cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}
users:
- name: stand-in
  user: {token: stand-in-token}
contexts:
- name: stand-in
  context: {cluster: stand-in, user: stand-in}
current-context: stand-in
`,
      );
      return file;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object")
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  return value;
}
