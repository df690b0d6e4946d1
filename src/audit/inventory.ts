import type { KubeConfig } from "@kubernetes/client-node";
import { getJson } from "../kube/api-client.js";
import { describeApiError, retryWhenAsked, statusCode } from "../kube/api-errors.js";
import { type ListPage, listPath, type ListPageRequest as Page } from "../kube/api-paths.js";
import type { KubeObject } from "../kube/objects.js";
import { isControllerMade } from "../rules/br-workload-rules.js";

const NEBULA = "apps.nebula-graph.io/v1alpha1";

/** Objects per list request: 100,000 Jobs are read 500 at a time, never all at once. */
export const PAGE_SIZE = 500;

/**
 * How long a page's answer may take to start, or stop coming in the middle (500 Pods can be a
 * few MB): long enough for a loaded API server. Then the page gives its connection up and
 * fails the run, which the next run repeats, instead of holding it for undici's 300 s.
 */
const PAGE_TIMEOUT_MS = 60_000;

/** A kind the audit reads. */
interface Source {
  readonly kind: string;
  readonly apiVersion: string;
  readonly resource: string;
  /** CRDs may be absent (operator 1.8's kinds): skipped and named, not an error. */
  readonly optional: boolean;
  /**
   * Pods of a Job or a ReplicaSet, and ReplicaSets of a Deployment, repeat a template that is
   * audited where it was written: only those nobody controls are audited themselves.
   */
  readonly onlyUncontrolled?: boolean;
}

const SOURCES: readonly Source[] = [
  { kind: "NebulaRestore", apiVersion: NEBULA, resource: "nebularestores", optional: true },
  { kind: "NebulaBackup", apiVersion: NEBULA, resource: "nebulabackups", optional: true },
  { kind: "NebulaCronBackup", apiVersion: NEBULA, resource: "nebulacronbackups", optional: true },
  { kind: "Job", apiVersion: "batch/v1", resource: "jobs", optional: false },
  { kind: "CronJob", apiVersion: "batch/v1", resource: "cronjobs", optional: false },
  { kind: "Pod", apiVersion: "v1", resource: "pods", optional: false, onlyUncontrolled: true },
  { kind: "Deployment", apiVersion: "apps/v1", resource: "deployments", optional: false },
  { kind: "StatefulSet", apiVersion: "apps/v1", resource: "statefulsets", optional: false },
  {
    kind: "ReplicaSet",
    apiVersion: "apps/v1",
    resource: "replicasets",
    optional: false,
    onlyUncontrolled: true,
  },
  { kind: "DaemonSet", apiVersion: "apps/v1", resource: "daemonsets", optional: false },
];

export type InventoryResult =
  | { ok: true; objects: KubeObject[]; missingKinds: string[] }
  | { ok: false; reason: string };

export type PagedInventoryResult =
  | { ok: true; objects: number; missingKinds: string[] }
  | { ok: false; reason: string };

type ApiCall = (verb: string, resource: string) => void;

export interface PagingOptions {
  readonly onApiCall?: ApiCall;
  readonly pageSize?: number;
}

/**
 * Lists every object the rules may guard, in one namespace or all, one page (`limit` /
 * `continue`) at a time: `onPage` sees each page before the next is fetched, so memory holds
 * one page, not the cluster. A continue token that expires mid-list (410) fails the run; the
 * next run starts over.
 */
export async function forEachGuardablePage(
  kubeConfig: KubeConfig,
  namespace: string | undefined,
  onPage: (objects: KubeObject[]) => Promise<void> | void,
  options: PagingOptions = {},
): Promise<PagedInventoryResult> {
  const { onApiCall = () => {}, pageSize = PAGE_SIZE } = options;
  const missingKinds: string[] = [];
  let count = 0;
  for (const source of SOURCES) {
    let continueToken: string | undefined;
    do {
      onApiCall("list", source.resource);
      const page = await listPage(kubeConfig, source, {
        namespace,
        limit: pageSize,
        continueToken,
      });
      if (!page.ok) return page;
      if (page.missing) {
        missingKinds.push(source.kind);
        break;
      }
      const objects = (page.list.items ?? [])
        .map(
          (item) =>
            ({
              ...(item as KubeObject),
              apiVersion: source.apiVersion,
              kind: source.kind,
            }) as KubeObject,
        )
        .filter((object) => !source.onlyUncontrolled || !isControllerMade(object));
      count += objects.length;
      await onPage(objects);
      const next = page.list.metadata?.continue;
      continueToken = next ? next : undefined;
    } while (continueToken);
  }
  return { ok: true, objects: count, missingKinds };
}

/**
 * One page as the API server's JSON, read with a plain GET on the shared connection pool. Not
 * client-node's typed list calls: they copy every object into its model classes (a second
 * copy of each page, and only the fields its models know) after fetch has held the answer
 * through young-generation collections (see `getJson`).
 */
async function listPage(
  kubeConfig: KubeConfig,
  source: Source,
  page: Page,
): Promise<{ ok: true; missing: boolean; list: ListPage } | { ok: false; reason: string }> {
  try {
    const path = listPath(source.apiVersion, source.resource, page);
    const list = (await retryWhenAsked(() =>
      getJson(kubeConfig, path, PAGE_TIMEOUT_MS),
    )) as ListPage;
    return { ok: true, missing: false, list };
  } catch (error) {
    const code = statusCode(error);
    if (code === 404 && source.optional && !page.continueToken)
      return { ok: true, missing: true, list: {} };
    if (code === 410)
      return {
        ok: false,
        reason: `listing ${source.resource} failed: the list changed too much while it was read page by page (410 Gone); the next run starts over`,
      };
    return {
      ok: false,
      reason: `listing ${source.resource} to audit failed: ${describeApiError(error)}`,
    };
  }
}

/** Every guardable object at once: for callers that want the list (small clusters, tests). */
export async function listGuardable(
  kubeConfig: KubeConfig,
  namespace: string | undefined,
  onApiCall: ApiCall = () => {},
): Promise<InventoryResult> {
  const objects: KubeObject[] = [];
  const listed = await forEachGuardablePage(
    kubeConfig,
    namespace,
    (page) => {
      objects.push(...page);
    },
    { onApiCall },
  );
  if (!listed.ok) return listed;
  return { ok: true, objects, missingKinds: listed.missingKinds };
}
