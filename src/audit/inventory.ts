import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
} from "@kubernetes/client-node";
import { apiClient } from "../kube/api-client.js";
import { describeApiError, retryWhenAsked, statusCode } from "../kube/api-errors.js";
import type { KubeObject } from "../kube/objects.js";
import { isControllerMade } from "../rules/br-workload-rules.js";

const NEBULA_GROUP = "apps.nebula-graph.io";
const NEBULA_VERSION = "v1alpha1";

/** Objects per list request: 100,000 Jobs are read 500 at a time, never all at once. */
export const PAGE_SIZE = 500;

/** One page of a list, as every list call answers it. */
interface ListPage {
  items?: unknown[];
  metadata?: { _continue?: string; continue?: string };
}

interface Page {
  readonly namespace: string | undefined;
  readonly limit: number;
  readonly continueToken: string | undefined;
}

/** A kind the audit reads, and how to list one page of it. */
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
  list(page: Page): Promise<ListPage>;
}

function sources(kubeConfig: KubeConfig): Source[] {
  const custom = apiClient(kubeConfig, CustomObjectsApi);
  const batch = apiClient(kubeConfig, BatchV1Api);
  const core = apiClient(kubeConfig, CoreV1Api);
  const apps = apiClient(kubeConfig, AppsV1Api);
  const nebula = (kind: string, plural: string): Source => ({
    kind,
    apiVersion: `${NEBULA_GROUP}/${NEBULA_VERSION}`,
    resource: plural,
    optional: true,
    list: ({ namespace, limit, continueToken }) => {
      const params = {
        group: NEBULA_GROUP,
        version: NEBULA_VERSION,
        plural,
        limit,
        _continue: continueToken,
      };
      return (
        namespace
          ? custom.listNamespacedCustomObject({ ...params, namespace })
          : custom.listClusterCustomObject(params)
      ) as Promise<ListPage>;
    },
  });
  return [
    nebula("NebulaRestore", "nebularestores"),
    nebula("NebulaBackup", "nebulabackups"),
    nebula("NebulaCronBackup", "nebulacronbackups"),
    {
      kind: "Job",
      apiVersion: "batch/v1",
      resource: "jobs",
      optional: false,
      list: ({ namespace, limit, continueToken: _continue }) =>
        namespace
          ? batch.listNamespacedJob({ namespace, limit, _continue })
          : batch.listJobForAllNamespaces({ limit, _continue }),
    },
    {
      kind: "CronJob",
      apiVersion: "batch/v1",
      resource: "cronjobs",
      optional: false,
      list: ({ namespace, limit, continueToken: _continue }) =>
        namespace
          ? batch.listNamespacedCronJob({ namespace, limit, _continue })
          : batch.listCronJobForAllNamespaces({ limit, _continue }),
    },
    {
      kind: "Pod",
      apiVersion: "v1",
      resource: "pods",
      optional: false,
      onlyUncontrolled: true,
      list: ({ namespace, limit, continueToken: _continue }) =>
        namespace
          ? core.listNamespacedPod({ namespace, limit, _continue })
          : core.listPodForAllNamespaces({ limit, _continue }),
    },
    {
      kind: "Deployment",
      apiVersion: "apps/v1",
      resource: "deployments",
      optional: false,
      list: ({ namespace, limit, continueToken: _continue }) =>
        namespace
          ? apps.listNamespacedDeployment({ namespace, limit, _continue })
          : apps.listDeploymentForAllNamespaces({ limit, _continue }),
    },
    {
      kind: "StatefulSet",
      apiVersion: "apps/v1",
      resource: "statefulsets",
      optional: false,
      list: ({ namespace, limit, continueToken: _continue }) =>
        namespace
          ? apps.listNamespacedStatefulSet({ namespace, limit, _continue })
          : apps.listStatefulSetForAllNamespaces({ limit, _continue }),
    },
    {
      kind: "ReplicaSet",
      apiVersion: "apps/v1",
      resource: "replicasets",
      optional: false,
      onlyUncontrolled: true,
      list: ({ namespace, limit, continueToken: _continue }) =>
        namespace
          ? apps.listNamespacedReplicaSet({ namespace, limit, _continue })
          : apps.listReplicaSetForAllNamespaces({ limit, _continue }),
    },
    {
      kind: "DaemonSet",
      apiVersion: "apps/v1",
      resource: "daemonsets",
      optional: false,
      list: ({ namespace, limit, continueToken: _continue }) =>
        namespace
          ? apps.listNamespacedDaemonSet({ namespace, limit, _continue })
          : apps.listDaemonSetForAllNamespaces({ limit, _continue }),
    },
  ];
}

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
  for (const source of sources(kubeConfig)) {
    let continueToken: string | undefined;
    do {
      onApiCall("list", source.resource);
      const page = await listPage(source, { namespace, limit: pageSize, continueToken });
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
      const next = page.list.metadata?._continue ?? page.list.metadata?.continue;
      continueToken = next ? next : undefined;
    } while (continueToken);
  }
  return { ok: true, objects: count, missingKinds };
}

async function listPage(
  source: Source,
  page: Page,
): Promise<{ ok: true; missing: boolean; list: ListPage } | { ok: false; reason: string }> {
  try {
    return { ok: true, missing: false, list: await retryWhenAsked(() => source.list(page)) };
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
