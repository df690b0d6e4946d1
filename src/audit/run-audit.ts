import type { KubeConfig } from "@kubernetes/client-node";
import type { ClusterView } from "../cluster-view/cluster-view.js";
import type { Config } from "../config/config.js";
import { type AuditEntry, auditObject, guarded, secretsFor } from "./audit.js";
import { listGuardable } from "./inventory.js";

export type AuditRun =
  | { ok: true; entries: AuditEntry[]; objects: number; missingKinds: string[] }
  | { ok: false; reason: string };

/** Lists what the rules guard, reads the Secrets they name once, and judges every object. */
export async function runAudit(
  kubeConfig: KubeConfig,
  view: ClusterView,
  config: Config,
  namespace: string | undefined,
  onApiCall?: (verb: string, resource: string) => void,
): Promise<AuditRun> {
  const inventory = await listGuardable(kubeConfig, namespace, onApiCall);
  if (!inventory.ok) return inventory;
  const objects = guarded(inventory.objects, config);
  const cluster = await view.snapshot(secretsFor(objects), AbortSignal.timeout(30_000));
  const entries = objects.flatMap((item) => auditObject(item, cluster, config));
  return { ok: true, entries, objects: objects.length, missingKinds: inventory.missingKinds };
}
