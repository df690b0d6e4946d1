import { isDns1123Label, isDns1123Subdomain } from "./names.js";

/** One page of a list, as the API server answers it. */
export interface ListPage {
  items?: unknown[];
  metadata?: { resourceVersion?: string; continue?: string };
}

/** One page of a list: in one namespace or all, at most `limit` objects, from `continueToken`. */
export interface ListPageRequest {
  readonly namespace?: string | undefined;
  readonly limit: number;
  readonly continueToken: string | undefined;
}

/**
 * The API server's path of one page of a list of `resource` in `apiVersion`: `/api/v1/…` for
 * the core group, `/apis/<group>/<version>/…` for the others, `/namespaces/<ns>/` when in one
 * namespace; `limit` and `continue` as its query. A namespace no namespace can be named is
 * refused (thrown), never sent.
 */
export function listPath(
  apiVersion: string,
  resource: string,
  { namespace, limit, continueToken }: ListPageRequest,
): string {
  // `..` or `a/b` would leave its path segment (URL resolution): another list than asked for.
  if (namespace !== undefined && namespace !== "" && !isDns1123Label(namespace))
    throw new RangeError("not a namespace name (a DNS-1123 label)");
  const scope = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  const query = new URLSearchParams({ limit: String(limit) });
  if (continueToken) query.set("continue", continueToken);
  return `${apiRoot(apiVersion)}${scope}/${resource}?${query}`;
}

/** The path of `resource` in `apiVersion` across all namespaces, as a watch asks for it. */
export function collectionPath(apiVersion: string, resource: string): string {
  return `${apiRoot(apiVersion)}/${resource}`;
}

/**
 * The path of one namespaced object, or undefined when its namespace or name could not name
 * one (only a request that did not come from an API server has such a namespace): no such
 * object exists, and nothing of the request goes into a path but valid names.
 */
export function objectPath(
  apiVersion: string,
  resource: string,
  ref: { readonly namespace: string; readonly name: string },
): string | undefined {
  if (!isDns1123Label(ref.namespace) || !isDns1123Subdomain(ref.name)) return undefined;
  return `${apiRoot(apiVersion)}/namespaces/${ref.namespace}/${resource}/${ref.name}`;
}

/** `/api/v1` for the core group, `/apis/<group>/<version>` for the others. */
function apiRoot(apiVersion: string): string {
  return apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}
