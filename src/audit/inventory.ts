import { BatchV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { describeApiError, retryWhenAsked, statusCode } from "../kube/api-errors.js";
import type { KubeObject } from "../kube/objects.js";

/** The kinds an audit reads, and how to list them. */
const CUSTOM_KINDS = [
  { kind: "NebulaRestore", plural: "nebularestores" },
  { kind: "NebulaBackup", plural: "nebulabackups" },
  { kind: "NebulaCronBackup", plural: "nebulacronbackups" },
] as const;
const NEBULA_GROUP = "apps.nebula-graph.io";
const NEBULA_VERSION = "v1alpha1";

export type InventoryResult =
  | { ok: true; objects: KubeObject[]; missingKinds: string[] }
  | { ok: false; reason: string };

type ApiCall = (verb: string, resource: string) => void;

/**
 * Lists every object the rules may guard, in one namespace or all. Kinds whose CRD is not
 * installed (404) are skipped and named, not an error: operator 1.8's kinds may be absent.
 */
export async function listGuardable(
  kubeConfig: KubeConfig,
  namespace: string | undefined,
  onApiCall: ApiCall = () => {},
): Promise<InventoryResult> {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const batch = kubeConfig.makeApiClient(BatchV1Api);
  const objects: KubeObject[] = [];
  const missingKinds: string[] = [];
  try {
    for (const { kind, plural } of CUSTOM_KINDS) {
      onApiCall("list", plural);
      const params = { group: NEBULA_GROUP, version: NEBULA_VERSION, plural };
      const list = (await retryWhenAsked(() =>
        namespace
          ? custom.listNamespacedCustomObject({ ...params, namespace })
          : custom.listClusterCustomObject(params),
      ).catch((error: unknown) => {
        if (statusCode(error) === 404) return undefined;
        throw error;
      })) as { items?: KubeObject[] } | undefined;
      if (!list) {
        missingKinds.push(kind);
        continue;
      }
      for (const item of list.items ?? [])
        objects.push({ ...item, apiVersion: `${NEBULA_GROUP}/${NEBULA_VERSION}`, kind });
    }
    onApiCall("list", "jobs");
    const jobs = await retryWhenAsked(() =>
      namespace ? batch.listNamespacedJob({ namespace }) : batch.listJobForAllNamespaces(),
    );
    for (const job of jobs.items)
      objects.push({ ...(job as unknown as KubeObject), apiVersion: "batch/v1", kind: "Job" });
    onApiCall("list", "cronjobs");
    const cronJobs = await retryWhenAsked(() =>
      namespace ? batch.listNamespacedCronJob({ namespace }) : batch.listCronJobForAllNamespaces(),
    );
    for (const cronJob of cronJobs.items)
      objects.push({
        ...(cronJob as unknown as KubeObject),
        apiVersion: "batch/v1",
        kind: "CronJob",
      });
  } catch (error) {
    return { ok: false, reason: `listing objects to audit failed: ${describeApiError(error)}` };
  }
  return { ok: true, objects, missingKinds };
}
