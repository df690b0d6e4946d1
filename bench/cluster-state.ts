import { stringify } from "yaml";

/**
 * A static cluster-state file of `clusters` NebulaClusters spread over `namespaces`
 * namespaces, as YAML: cluster-i in ns-(i mod namespaces), BR enabled but for every tenth.
 * Small objects (the spec fields the rules read): the static view keeps those facts only,
 * so what else a cluster holds changes the file's loading time, not the admission path.
 */
export function largeClusterState(clusters: number, namespaces: number): string {
  const docs: string[] = [];
  for (let i = 0; i < clusters; i++) {
    docs.push(
      stringify({
        apiVersion: "apps.nebula-graph.io/v1alpha1",
        kind: "NebulaCluster",
        metadata: { name: `cluster-${i}`, namespace: `ns-${i % namespaces}` },
        spec: {
          enableBR: i % 10 !== 0,
          imagePullSecrets: [{ name: "br-ent-secret" }],
          metad: { replicas: 3 },
        },
      }),
    );
  }
  return docs.join("---\n");
}

/** The index of the n-th cluster with BR enabled (skips every tenth). */
export const brEnabledCluster = (n: number): number => n + Math.floor(n / 9) + 1;
