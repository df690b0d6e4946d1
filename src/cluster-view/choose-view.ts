import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { loadKubeConfig } from "../kube/kubeconfig.js";
import { EMBEDDED_CLUSTER_STATE } from "../paths.js";
import type { ClusterView } from "./cluster-view.js";
import { LiveClusterView } from "./live-view.js";
import { StaticClusterView } from "./static-view.js";

export interface ViewChoice {
  readonly clusterState?: string;
  readonly kubeconfig?: string;
  readonly inCluster?: boolean;
  readonly secretTimeoutMs?: number;
  readonly onApiCall?: (verb: string, resource: string) => void;
  /** Called when a NebulaCluster is added, changed or deleted (live view only). */
  readonly onClusterChange?: () => void;
}

export type ViewResult =
  | { ok: true; view: ClusterView; describe: string; kubeConfig?: KubeConfig }
  | { ok: false; reason: string };

/**
 * `--cluster-state FILE` → static; `--kubeconfig FILE` or running in a pod → live;
 * otherwise the embedded example state, so the webhook runs with no cluster at all.
 */
export async function chooseView(choice: ViewChoice, logger: Logger): Promise<ViewResult> {
  const live = choice.kubeconfig !== undefined || choice.inCluster === true;
  if (choice.clusterState !== undefined || !live) {
    const file = choice.clusterState ?? EMBEDDED_CLUSTER_STATE;
    const loaded = await StaticClusterView.fromFile(file);
    if (!loaded.ok) return loaded;
    return { ok: true, view: loaded.view, describe: `static cluster state ${file}` };
  }
  const loaded = loadKubeConfig(choice.kubeconfig);
  if (!loaded.ok) return loaded;
  const kubeConfig = loaded.kubeConfig;
  const view = new LiveClusterView({
    kubeConfig,
    logger,
    secretTimeoutMs: choice.secretTimeoutMs ?? 2000,
    onApiCall: choice.onApiCall,
    onChange: choice.onClusterChange,
  });
  view.startInBackground();
  return {
    ok: true,
    view,
    kubeConfig,
    describe: `live cluster ${kubeConfig.getCurrentCluster()?.server ?? "(in-cluster)"}`,
  };
}
