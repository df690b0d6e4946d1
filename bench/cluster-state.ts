import { stringify } from "yaml";

/** A cluster view of `clusters` NebulaClusters spread over `namespaces` namespaces, as YAML. */
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

/** The NebulaClusters and namespaces of the same spread, as objects to create live. */
export function largeClusterObjects(clusters: number, namespaces: number) {
  const ns = [...Array(namespaces)].map((_, i) => ({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: `ns-${i}` },
  }));
  const nc = [...Array(clusters)].map((_, i) => ({
    apiVersion: "apps.nebula-graph.io/v1alpha1",
    kind: "NebulaCluster",
    metadata: { name: `cluster-${i}`, namespace: `ns-${i % namespaces}` },
    spec: { enableBR: i % 10 !== 0, imagePullSecrets: [{ name: "br-ent-secret" }] },
  }));
  return { namespaces: ns, clusters: nc };
}
