import { KubeConfig } from "@kubernetes/client-node";

export type KubeConfigResult = { ok: true; kubeConfig: KubeConfig } | { ok: false; reason: string };

/** A kubeconfig file; with none named, kubectl's default ($KUBECONFIG, ~/.kube/config), else the pod's service account. */
export function loadKubeConfig(file: string | undefined): KubeConfigResult {
  const kubeConfig = new KubeConfig();
  try {
    if (file) kubeConfig.loadFromFile(file);
    else kubeConfig.loadFromDefault();
  } catch (error) {
    return {
      ok: false,
      reason: `cannot load ${file ?? "the in-cluster config"}: ${(error as Error).message}`,
    };
  }
  return { ok: true, kubeConfig };
}
