import { field, isObject, type KubeObject, stringField } from "../kube/objects.js";
import type { NebulaBackupFacts, NebulaClusterFacts, SecretFacts } from "./cluster-view.js";

/** Reduces a NebulaCluster object to the facts rules read; drops everything else early. */
export function nebulaClusterFacts(object: KubeObject): NebulaClusterFacts | undefined {
  const name = object.metadata?.name;
  const namespace = object.metadata?.namespace ?? "default";
  if (!name) return undefined;
  const pullSecrets = field(object, "spec", "imagePullSecrets");
  const port = stringField(object, "spec", "metad", "config", "port");
  const parsedPort = port !== undefined && /^\d+$/.test(port) ? Number(port) : undefined;
  return {
    namespace,
    name,
    enableBR: field(object, "spec", "enableBR") === true,
    imagePullSecrets: Array.isArray(pullSecrets)
      ? pullSecrets.map((ref) => stringField(ref, "name")).filter((n): n is string => !!n)
      : [],
    metadPort: parsedPort,
  };
}

/** Reduces a NebulaBackup to the cluster it backs up and its uid. */
export function nebulaBackupFacts(object: KubeObject): NebulaBackupFacts | undefined {
  const name = object.metadata?.name;
  const uid = stringField(object, "metadata", "uid");
  const clusterName = stringField(object, "spec", "config", "clusterName");
  if (!name || !uid || !clusterName) return undefined;
  const namespace = object.metadata?.namespace ?? "default";
  return {
    namespace,
    name,
    uid,
    clusterName,
    clusterNamespace: stringField(object, "spec", "config", "clusterNamespace") || namespace,
  };
}

/** Keeps a Secret's key names only: values never enter the webhook's memory beyond here. */
export function secretFacts(object: KubeObject): SecretFacts | undefined {
  const name = object.metadata?.name;
  if (!name) return undefined;
  const keys = new Set<string>();
  for (const source of [object.data, object.stringData]) {
    if (isObject(source)) for (const key of Object.keys(source)) keys.add(key);
  }
  return { namespace: object.metadata?.namespace ?? "default", name, keys: [...keys].sort() };
}
