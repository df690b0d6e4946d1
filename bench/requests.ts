/**
 * The objects the bench sends: for every scenario a stream of distinct objects (names,
 * namespaces, clusters, storage paths and commands differ from one request to the next), so
 * that no cache on the way sees the same object twice.
 */
import { reviewFor } from "../src/admission/review.js";
import type { KubeObject } from "../src/kube/objects.js";
import { WORKLOAD_KINDS } from "../src/workload/workload-kinds.js";
import { API_VERSION, type WorkloadKindName } from "../test/support/workloads.js";

export type { WorkloadKindName };

/** Every kind the webhook guards as a workload (src/workload/workload-kinds.ts). */
export const GUARDED_WORKLOAD_KINDS = WORKLOAD_KINDS.map((w) => w.kind) as WorkloadKindName[];

/** Where request `i` points: cluster-i lives in ns-(i mod namespaces) in the bench's state. */
export interface Target {
  readonly namespace: string;
  readonly cluster: string;
}

export const targetOf = (i: number, namespaces: number): Target => ({
  namespace: `ns-${i % namespaces}`,
  cluster: `cluster-${i}`,
});

/** A br-ent backup container, its storage path and keys different for each `i`. */
function brContainer(i: number) {
  return {
    name: "backup",
    image: "vesoft/br-ent:v3.5.0",
    command: [
      "/bin/sh",
      "-ecx",
      `exec /usr/local/bin/br-ent backup full --storage s3://nebula-br-${i % 97}/daily/${i} --s3.access_key AK${i} --s3.secret_key SK${i} --s3.region us-west-2 --s3.endpoint https://s3.us-west-2.amazonaws.com`,
    ],
    resources: { requests: { cpu: "200m", memory: "256Mi" } },
  };
}

/** A workload of `kind` that runs br-ent against `target`'s cluster, labelled as users do. */
export function brWorkload(kind: WorkloadKindName, i: number, target: Target): KubeObject {
  const labels = { "app.kubernetes.io/cluster": target.cluster, app: `br-${i}` };
  const podSpec = { restartPolicy: "OnFailure", containers: [brContainer(i)] };
  const metadata = { name: `br-${kind.toLowerCase()}-${i}`, namespace: target.namespace, labels };
  const template = { metadata: { labels }, spec: podSpec };
  const base = { apiVersion: API_VERSION[kind], kind, metadata };
  switch (kind) {
    case "Pod":
      return { ...base, spec: podSpec };
    case "Job":
      return { ...base, spec: { parallelism: 1, ttlSecondsAfterFinished: 60, template } };
    case "CronJob":
      return {
        ...base,
        spec: { schedule: `${i % 60} 3 * * *`, jobTemplate: { spec: { template } } },
      };
    default:
      return {
        ...base,
        spec: {
          selector: { matchLabels: { app: `br-${i}` } },
          template: { ...template, spec: { ...podSpec, restartPolicy: "Always" } },
        },
      };
  }
}

/** A Job the webhook does not guard (no BR in it): the fast path. */
export function unrelatedJob(i: number, target: Target): KubeObject {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: `pi-${i}`, namespace: target.namespace },
    spec: {
      template: {
        spec: {
          restartPolicy: "Never",
          containers: [
            {
              name: "pi",
              image: "perl:5.34",
              command: ["perl", "-Mbignum=bpi", "-wle", `print bpi(${2000 + (i % 100)})`],
            },
          ],
        },
      },
    },
  };
}

/** A NebulaRestore (operator 1.4-1.7 shape) of `target`'s cluster, reading `secretName`. */
export function restore(i: number, target: Target, secretName: string): KubeObject {
  return {
    apiVersion: "apps.nebula-graph.io/v1alpha1",
    kind: "NebulaRestore",
    metadata: { name: `restore-${i}`, namespace: target.namespace },
    spec: {
      br: {
        clusterName: target.cluster,
        backupName: `BACKUP_2026_0${1 + (i % 9)}_12_10_04_${String(i % 60).padStart(2, "0")}`,
        concurrency: 5,
        s3: {
          region: "us-west-2",
          bucket: `nebula-br-${i % 97}`,
          endpoint: "https://s3.us-west-2.amazonaws.com",
          secretName,
        },
      },
    },
  };
}

/** A NebulaRestore in the operator 1.8 shape (spec.config), as the live API server serves it. */
export function restoreV18(i: number, target: Target, secretName: string): KubeObject {
  return {
    apiVersion: "apps.nebula-graph.io/v1alpha1",
    kind: "NebulaRestore",
    metadata: { name: `restore-${i}`, namespace: target.namespace },
    spec: {
      config: {
        clusterName: target.cluster,
        backupName: `BACKUP_2026_0${1 + (i % 9)}_12_10_04_${String(i % 60).padStart(2, "0")}`,
        concurrency: 5,
        s3: {
          region: "us-east-1",
          bucket: `nebula-backups-${i % 97}`,
          endpoint: "https://s3.us-east-1.amazonaws.com",
          secretName,
        },
      },
    },
  };
}

/** The AdmissionReview body for `object`, with a uid of its own. */
export function reviewBody(object: KubeObject, i: number): string {
  const uid = `3d0f7a52-8d8e-4f57-9a0c-${i.toString(16).padStart(12, "0")}`;
  return JSON.stringify(reviewFor(object, { uid }));
}

/** `count` distinct requests for one scenario. */
export function distinct(
  count: number,
  path: "/validate" | "/mutate",
  make: (i: number) => KubeObject,
): { path: string; body: string }[] {
  return [...Array(count).keys()].map((i) => ({ path, body: reviewBody(make(i), i) }));
}
