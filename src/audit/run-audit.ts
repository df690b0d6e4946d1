import type { KubeConfig } from "@kubernetes/client-node";
import type { ClusterView } from "../cluster-view/cluster-view.js";
import type { Config } from "../config/config.js";
import { type AuditEntry, auditObject, guarded, secretsFor } from "./audit.js";
import { forEachGuardablePage } from "./inventory.js";

export type AuditRun =
  | { ok: true; entries: AuditEntry[]; objects: number; missingKinds: string[] }
  | { ok: false; reason: string };

/**
 * Lists what the rules guard a page at a time, reads the Secrets each page names once, and
 * judges every object: only the verdicts outlive a page, not the objects.
 */
export async function runAudit(
  kubeConfig: KubeConfig,
  view: ClusterView,
  config: Config,
  namespace: string | undefined,
  onApiCall?: (verb: string, resource: string) => void,
): Promise<AuditRun> {
  const entries: AuditEntry[] = [];
  let objects = 0;
  const listed = await forEachGuardablePage(
    kubeConfig,
    namespace,
    async (page) => {
      const items = guarded(page, config);
      if (items.length === 0) return;
      objects += items.length;
      const cluster = await view.snapshot(secretsFor(items), AbortSignal.timeout(30_000));
      for (const item of items) entries.push(...auditObject(item, cluster, config));
    },
    { onApiCall },
  );
  if (!listed.ok) return listed;
  return { ok: true, entries, objects, missingKinds: listed.missingKinds };
}
