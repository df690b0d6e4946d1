import { readManifests } from "../kube/manifests.js";
import type { KubeObject } from "../kube/objects.js";
import {
  absent,
  type ClusterSnapshot,
  type ClusterView,
  clusterKey,
  found,
  type NebulaBackupFacts,
  type NebulaClusterFacts,
  type SecretFacts,
} from "./cluster-view.js";
import { nebulaBackupFacts, nebulaClusterFacts, secretFacts } from "./nebula-cluster.js";

/** A cluster view from a fixed set of objects: the embedded default, `check`, and tests. */
export class StaticClusterView implements ClusterView, ClusterSnapshot {
  private readonly clusters = new Map<string, NebulaClusterFacts>();
  private readonly secrets = new Map<string, SecretFacts>();
  private readonly backups = new Map<string, NebulaBackupFacts>();

  constructor(objects: readonly KubeObject[]) {
    for (const object of objects) {
      if (object.kind === "NebulaCluster") {
        const facts = nebulaClusterFacts(object);
        if (facts) this.clusters.set(clusterKey(facts.namespace, facts.name), facts);
      } else if (object.kind === "NebulaBackup") {
        const facts = nebulaBackupFacts(object);
        if (facts) this.backups.set(clusterKey(facts.namespace, facts.name), facts);
      } else if (object.kind === "Secret") {
        const facts = secretFacts(object);
        if (facts) this.secrets.set(clusterKey(facts.namespace, facts.name), facts);
      }
    }
  }

  static async fromFile(
    file: string,
  ): Promise<{ ok: true; view: StaticClusterView } | { ok: false; reason: string }> {
    const parsed = await readManifests([file]);
    if (!parsed.ok) return parsed;
    return { ok: true, view: new StaticClusterView(parsed.objects.map((o) => o.object)) };
  }

  isSynced(): boolean {
    return true;
  }

  async snapshot(): Promise<ClusterSnapshot> {
    return this;
  }

  nebulaCluster(namespace: string, name: string) {
    const facts = this.clusters.get(clusterKey(namespace, name));
    return facts ? found(facts) : absent;
  }

  secret(namespace: string, name: string) {
    const facts = this.secrets.get(clusterKey(namespace, name));
    return facts ? found(facts) : absent;
  }

  nebulaBackup(namespace: string, name: string) {
    const facts = this.backups.get(clusterKey(namespace, name));
    return facts ? found(facts) : absent;
  }

  nebulaClusters(): readonly NebulaClusterFacts[] {
    return [...this.clusters.values()];
  }

  async stop(): Promise<void> {}
}
