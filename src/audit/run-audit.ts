import type { KubeConfig } from "@kubernetes/client-node";
import type { ClusterView } from "../cluster-view/cluster-view.js";
import type { Config } from "../config/config.js";
import { evaluateObject, guarded, secretsFor } from "./audit.js";
import { AuditResults } from "./audit-results.js";
import { forEachGuardablePage } from "./inventory.js";

export type AuditRun =
  | { ok: true; results: AuditResults; objects: number; missingKinds: string[] }
  | { ok: false; reason: string };

/**
 * Lists what the rules guard a page at a time, reads the Secrets each page names once, and
 * judges every object: only the verdicts outlive a page, not the objects, and those compactly
 * (AuditResults), so 100,000 guarded objects fit in tens of MiB.
 */
export async function runAudit(
  kubeConfig: KubeConfig,
  view: ClusterView,
  config: Config,
  namespace: string | undefined,
  onApiCall?: (verb: string, resource: string) => void,
): Promise<AuditRun> {
  const results = new AuditResults();
  const listed = await forEachGuardablePage(
    kubeConfig,
    namespace,
    async (page) => {
      const items = guarded(page, config);
      if (items.length === 0) return;
      const cluster = await view.snapshot(secretsFor(items), AbortSignal.timeout(30_000));
      for (const item of items) results.add(item, evaluateObject(item, cluster, config));
    },
    { onApiCall },
  );
  if (!listed.ok) return listed;
  return { ok: true, results, objects: results.objects, missingKinds: listed.missingKinds };
}
