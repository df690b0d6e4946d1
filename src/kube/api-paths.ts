import { isDns1123Label } from "./names.js";

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
  const root = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const scope = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  const query = new URLSearchParams({ limit: String(limit) });
  if (continueToken) query.set("continue", continueToken);
  return `${root}${scope}/${resource}?${query}`;
}
