import { field, type KubeObject } from "../kube/objects.js";
import type { AdmissionOperation } from "../rules/rule.js";

/**
 * Where each kind that runs pods keeps its pod template: the one place that knows it. Every
 * rule and the audit go through this table and `readBrWorkload`.
 */
export interface WorkloadKind {
  readonly group: string;
  readonly kind: string;
  /** Plural resource name, for webhook rules and audit lists. */
  readonly resource: string;
  readonly podSpecPath: readonly string[];
  /** Labels that may name the cluster, most specific last: the object's, then its templates'. */
  readonly labelPaths: readonly (readonly string[])[];
  readonly operations: readonly AdmissionOperation[];
  /** What the rules judge: on UPDATE, a change elsewhere (replicas, suspend) is not judged. */
  readonly judged: (object: KubeObject) => unknown;
  /** The webhook completes it (pull secret, --meta): only Jobs and CronJobs, on CREATE. */
  readonly completed: boolean;
}

const templated = (group: string, kind: string, resource: string): WorkloadKind => ({
  group,
  kind,
  resource,
  podSpecPath: ["spec", "template", "spec"],
  // Their pods carry the template's labels only, and the webhook does not complete these kinds.
  labelPaths: [["spec", "template", "metadata", "labels"]],
  operations: ["CREATE", "UPDATE"],
  judged: (object) => [object.metadata?.labels, field(object, "spec", "template")],
  completed: false,
});

export const WORKLOAD_KINDS: readonly WorkloadKind[] = [
  {
    group: "",
    kind: "Pod",
    resource: "pods",
    podSpecPath: ["spec"],
    labelPaths: [["metadata", "labels"]],
    // Containers are immutable; ephemeral containers (kubectl debug) arrive as an UPDATE.
    operations: ["CREATE", "UPDATE"],
    judged: (object) => field(object, "spec", "ephemeralContainers"),
    completed: false,
  },
  {
    ...templated("batch", "Job", "jobs"),
    labelPaths: [
      ["metadata", "labels"],
      ["spec", "template", "metadata", "labels"],
    ],
    // A Job's pod template is immutable: check and complete it when it is created.
    operations: ["CREATE"],
    completed: true,
  },
  {
    group: "batch",
    kind: "CronJob",
    resource: "cronjobs",
    podSpecPath: ["spec", "jobTemplate", "spec", "template", "spec"],
    labelPaths: [
      ["metadata", "labels"],
      ["spec", "jobTemplate", "metadata", "labels"],
      ["spec", "jobTemplate", "spec", "template", "metadata", "labels"],
    ],
    operations: ["CREATE", "UPDATE"],
    judged: (object) => [object.metadata?.labels, field(object, "spec", "jobTemplate")],
    completed: true,
  },
  templated("apps", "Deployment", "deployments"),
  templated("apps", "StatefulSet", "statefulsets"),
  templated("apps", "ReplicaSet", "replicasets"),
  templated("apps", "DaemonSet", "daemonsets"),
];

export function workloadKind(group: string, kind: string): WorkloadKind | undefined {
  return WORKLOAD_KINDS.find((w) => w.group === group && w.kind === kind);
}
