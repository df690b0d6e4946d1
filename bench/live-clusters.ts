/** Fills a real API server with operator-sized NebulaClusters, the way the operator would. */
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { apiClient } from "../src/kube/api-client.js";
import { namespaceObjects, operatorCluster, operatorClusterStatus } from "./operator-objects.js";

const GROUP = "apps.nebula-graph.io";
const VERSION = "v1alpha1";

export interface Filled {
  readonly seconds: number;
  /** Bytes of one NebulaCluster as the API server returns it (JSON, with managedFields). */
  readonly storedBytes: number;
}

/**
 * Creates `namespaces` namespaces and `clusters` NebulaClusters, each then given the status
 * the operator writes (through the status subresource), over one kept-alive client.
 */
export async function fillWithClusters(
  kubeConfig: KubeConfig,
  clusters: number,
  namespaces: number,
  width = 24,
): Promise<Filled> {
  const core = apiClient(kubeConfig, CoreV1Api);
  const custom = apiClient(kubeConfig, CustomObjectsApi);
  const started = Date.now();
  await inParallel(namespaceObjects(namespaces), width, (ns) => core.createNamespace({ body: ns }));
  await inParallel([...Array(clusters).keys()], width, async (i) => {
    const body = operatorCluster(i, namespaces);
    const { name, namespace } = body.metadata;
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: "nebulaclusters",
      namespace,
      body,
      fieldManager: "kubectl-client-side-apply",
    });
    await custom.patchNamespacedCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      plural: "nebulaclusters",
      namespace,
      name,
      body: [{ op: "add", path: "/status", value: operatorClusterStatus(name) }],
      fieldManager: "nebula-operator",
    });
  });
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  const one = await custom.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: "nebulaclusters",
    namespace: "ns-1",
    name: "cluster-1",
  });
  return { seconds, storedBytes: Buffer.byteLength(JSON.stringify(one)) };
}

export async function inParallel<T>(
  items: readonly T[],
  width: number,
  work: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    [...Array(width)].map(async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await work(item);
      }
    }),
  );
}
