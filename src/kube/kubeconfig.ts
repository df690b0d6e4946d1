import { KubeConfig } from "@kubernetes/client-node";

export type KubeConfigResult = { ok: true; kubeConfig: KubeConfig } | { ok: false; reason: string };

/** A kubeconfig file, or the pod's service account when no file is named. */
export function loadKubeConfig(file: string | undefined): KubeConfigResult {
  const kubeConfig = new KubeConfig();
  try {
    if (file) kubeConfig.loadFromFile(file);
    else kubeConfig.loadFromCluster();
  } catch (error) {
    return {
      ok: false,
      reason: `cannot load ${file ?? "the in-cluster config"}: ${(error as Error).message}`,
    };
  }
  return { ok: true, kubeConfig };
}
