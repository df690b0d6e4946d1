/**
 * The objects the audit bench fills a real API server with: hand-written br-ent backup Jobs as
 * teams keep them (labels, a `sh -ecx` script, keys from a Secret, resources), spread over
 * namespaces, each namespace with the two NebulaClusters they target. One Job in five breaks or
 * lacks something, in four ways the audit reports.
 */
import { operatorClusterSpec } from "./operator-objects.js";

/** The cluster the Jobs of a namespace back up, and one without BR that a few name instead. */
export const BR_CLUSTER = "nebula";
export const NO_BR_CLUSTER = "nebula-nobr";

/** What Job `i` is written to show in the audit (`i % 20` picks it). */
export type JobVariant = "good" | "cluster-without-br" | "placeholder" | "plaintext-keys" | "bare";

export function jobVariant(i: number): JobVariant {
  switch (i % 20) {
    case 3:
      return "placeholder"; // s3://BUCKET left from the sample: fail
    case 7:
      return "cluster-without-br"; // targets a cluster without enableBR: fail
    case 13:
      return "plaintext-keys"; // keys in the script: warn
    case 19:
      return "bare"; // the documented Job, without --meta, META_ADDRESS, imagePullSecrets: warn
    default:
      return "good";
  }
}

export const auditNamespace = (i: number, namespaces: number) => `audit-${i % namespaces}`;

const metaHost = (cluster: string, namespace: string) =>
  `${cluster}-metad-0.${cluster}-metad-headless.${namespace}.svc.cluster.local`;

/** Backup Job `i`, as the user wrote it (the API server adds its defaults and managedFields). */
export function auditJob(i: number, namespaces: number) {
  const namespace = auditNamespace(i, namespaces);
  const variant = jobVariant(i);
  const cluster = variant === "cluster-without-br" ? NO_BR_CLUSTER : BR_CLUSTER;
  const host = metaHost(cluster, namespace);
  const bucket = variant === "placeholder" ? "BUCKET" : `nebula-backups-${i % 13}`;
  const keys =
    variant === "plaintext-keys"
      ? `--s3.access_key AKIA${i} --s3.secret_key s3cr3t${i}`
      : '--s3.access_key "$ACCESS_KEY" --s3.secret_key "$SECRET_KEY"';
  const meta = variant === "bare" ? "" : ` --meta ${host}:9559`;
  const script = `exec /usr/local/bin/br-ent backup full${meta} --storage s3://${bucket}/${namespace}/daily-${i} ${keys} --s3.region us-west-2 --s3.endpoint https://s3.us-west-2.amazonaws.com`;
  const labels = {
    "app.kubernetes.io/cluster": cluster,
    "app.kubernetes.io/name": "nebula-br",
    "app.kubernetes.io/component": "backup",
    team: `team-${i % 37}`,
  };
  const fromSecret = (name: string, key: string) => ({
    name,
    valueFrom: { secretKeyRef: { name: "aws-s3", key } },
  });
  const env = [
    ...(variant === "bare" ? [] : [{ name: "META_ADDRESS", value: host }]),
    ...(variant === "plaintext-keys"
      ? []
      : [fromSecret("ACCESS_KEY", "access-key"), fromSecret("SECRET_KEY", "secret-key")]),
  ];
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: `backup-${i}`,
      namespace,
      labels,
      annotations: { "nebula-graph.io/backup-note": `daily full backup ${i} of ${cluster}` },
    },
    spec: {
      parallelism: 1,
      backoffLimit: 2,
      ttlSecondsAfterFinished: 86_400,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "OnFailure",
          ...(variant === "bare" ? {} : { imagePullSecrets: [{ name: "br-ent-secret" }] }),
          containers: [
            {
              name: "backup",
              image: "vesoft/br-ent:v3.5.0",
              command: ["/bin/sh", "-ecx", script],
              env,
              resources: {
                requests: { cpu: "200m", memory: "256Mi" },
                limits: { cpu: "1", memory: "1Gi" },
              },
            },
          ],
        },
      },
    },
  };
}

/** The NebulaClusters of one namespace: `nebula` with BR, `nebula-nobr` without. */
export function auditClusters(namespace: string) {
  return [
    [BR_CLUSTER, true],
    [NO_BR_CLUSTER, false],
  ].map(([name, enableBR]) => ({
    apiVersion: "apps.nebula-graph.io/v1alpha1",
    kind: "NebulaCluster",
    metadata: { name: name as string, namespace },
    spec: operatorClusterSpec(enableBR as boolean),
  }));
}
