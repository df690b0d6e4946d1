/**
 * Builds workloads of every kind around one pod spec, for the rule tables and the property
 * test: the same containers wrapped as a Pod, Job, CronJob, Deployment, StatefulSet,
 * ReplicaSet or DaemonSet.
 */
import type { KubeObject } from "../../src/kube/objects.js";

export const WORKLOAD_KIND_NAMES = [
  "Pod",
  "Job",
  "CronJob",
  "Deployment",
  "StatefulSet",
  "ReplicaSet",
  "DaemonSet",
] as const;
export type WorkloadKindName = (typeof WORKLOAD_KIND_NAMES)[number];

/** The apiVersion each workload kind is written with. */
export const API_VERSION: Record<WorkloadKindName, string> = {
  Pod: "v1",
  Job: "batch/v1",
  CronJob: "batch/v1",
  Deployment: "apps/v1",
  StatefulSet: "apps/v1",
  ReplicaSet: "apps/v1",
  DaemonSet: "apps/v1",
};

export function workload(
  kind: WorkloadKindName,
  podSpec: Record<string, unknown>,
  options: { labels?: Record<string, string>; namespace?: string; name?: string } = {},
): KubeObject {
  const metadata = {
    name: options.name ?? "br",
    namespace: options.namespace ?? "nebula",
    ...(options.labels ? { labels: options.labels } : {}),
  };
  const template = { spec: { restartPolicy: "Never", ...podSpec } };
  const base = { apiVersion: API_VERSION[kind], kind, metadata };
  switch (kind) {
    case "Pod":
      return { ...base, spec: template.spec };
    case "Job":
      return { ...base, spec: { template } };
    case "CronJob":
      return { ...base, spec: { schedule: "0 3 * * *", jobTemplate: { spec: { template } } } };
    default:
      return {
        ...base,
        spec: {
          selector: { matchLabels: { app: "br" } },
          template: { metadata: { labels: { app: "br" } }, spec: podSpec },
        },
      };
  }
}

export const groupOf = (object: KubeObject): string =>
  (object.apiVersion ?? "").includes("/") ? ((object.apiVersion ?? "").split("/")[0] ?? "") : "";
