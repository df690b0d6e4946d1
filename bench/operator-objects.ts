/**
 * Objects shaped like the ones the bench stands for: NebulaClusters as the NebulaGraph
 * Operator (1.8) stores them, with the operator's status, the last-applied annotation of
 * `kubectl apply` and the API server's managedFields (≈7 KB each as a list returns them),
 * and workloads of every kind the webhook guards, each request a distinct object.
 */
import type { KubeObject } from "../src/kube/objects.js";

const VERSION = "v3.8.0";

const resources = (cpu: string, memory: string) => ({
  requests: { cpu, memory },
  limits: { cpu: "2", memory },
});

const volume = (storage: string) => ({
  resources: { requests: { storage } },
  storageClassName: "ebs-sc",
});

/** `spec` of a NebulaCluster as the operator's samples write it, BR enabled or not. */
export function operatorClusterSpec(enableBR: boolean): Record<string, unknown> {
  return {
    graphd: {
      resources: resources("500m", "500Mi"),
      replicas: 2,
      image: "vesoft/nebula-graphd",
      version: VERSION,
      logVolumeClaim: volume("2Gi"),
    },
    metad: {
      config: { redirect_stdout: "false" },
      resources: resources("500m", "500Mi"),
      replicas: 3,
      image: "vesoft/nebula-metad",
      version: VERSION,
      logVolumeClaim: volume("2Gi"),
      dataVolumeClaim: volume("5Gi"),
    },
    storaged: {
      resources: resources("1", "1Gi"),
      replicas: 3,
      image: "vesoft/nebula-storaged",
      version: VERSION,
      logVolumeClaim: volume("2Gi"),
      dataVolumeClaims: [volume("20Gi")],
    },
    agent: { image: "vesoft/nebula-agent", version: "v3.7.1" },
    reference: { name: "statefulsets.apps", version: "v1" },
    schedulerName: "default-scheduler",
    imagePullPolicy: "IfNotPresent",
    imagePullSecrets: [{ name: "br-ent-secret" }],
    enablePVReclaim: true,
    enableBR,
  };
}

const workload = (name: string, revision: string, replicas: number) => ({
  availableReplicas: replicas,
  currentReplicas: replicas,
  currentRevision: `${name}-${revision}`,
  observedGeneration: 1,
  readyReplicas: replicas,
  replicas,
  updateRevision: `${name}-${revision}`,
  updatedReplicas: replicas,
});

/** `status` as the operator writes it once the cluster runs. */
export function operatorClusterStatus(name: string): Record<string, unknown> {
  const at = "2026-10-02T08:15:42Z";
  return {
    graphd: {
      phase: "Running",
      version: VERSION,
      workload: workload(`${name}-graphd`, "7d9c8f6b5d", 2),
    },
    metad: {
      phase: "Running",
      version: VERSION,
      workload: workload(`${name}-metad`, "5f4d7c9b8", 3),
    },
    storaged: {
      phase: "Running",
      version: VERSION,
      hostsAdded: true,
      workload: workload(`${name}-storaged`, "6b8d9f7c4", 3),
    },
    conditions: [
      {
        type: "Ready",
        status: "True",
        lastTransitionTime: at,
        lastUpdateTime: at,
        reason: "WorkloadReady",
        message: "Nebula cluster is running",
      },
    ],
    observedGeneration: 1,
    version: VERSION,
  };
}

/**
 * A NebulaCluster to create (the status is written after, through its subresource, as the
 * operator does): with the last-applied annotation of the `kubectl apply` that made it.
 */
export function operatorCluster(i: number, namespaces: number) {
  const name = `cluster-${i}`;
  const namespace = `ns-${i % namespaces}`;
  const spec = operatorClusterSpec(i % 10 !== 0);
  const labels = { team: `team-${i % 37}` };
  const applied = {
    apiVersion: "apps.nebula-graph.io/v1alpha1",
    kind: "NebulaCluster",
    metadata: { name, namespace, labels },
    spec,
  };
  return {
    apiVersion: "apps.nebula-graph.io/v1alpha1",
    kind: "NebulaCluster",
    metadata: {
      name,
      namespace,
      labels,
      annotations: { "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify(applied) },
    },
    spec,
  };
}

/** The same cluster with the status the operator wrote, as a static cluster-state file has it. */
export function operatorClusterWithStatus(i: number, namespaces: number): KubeObject {
  const cluster = operatorCluster(i, namespaces);
  return { ...cluster, status: operatorClusterStatus(cluster.metadata.name) };
}

/** Namespace objects ns-0 … ns-(n-1). */
export function namespaceObjects(namespaces: number) {
  return [...Array(namespaces)].map((_, i) => ({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: `ns-${i}` },
  }));
}
