import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { example, exampleCluster, config as parseTestConfig } from "../../test/support/fixtures.js";
import type {
  ClusterSnapshot,
  ClusterView,
  Freshness,
  Lookup,
  SecretFacts,
} from "../cluster-view/cluster-view.js";
import type { KubeObject } from "../kube/objects.js";
import { createLogger } from "../log.js";
import { admit, planAdmission } from "./admit.js";
import type { AdmissionRequest } from "./review.js";

/** The Secrets as the example cluster has them. */
const secretsOfTheExample = (namespace: string, name: string): Lookup<SecretFacts> =>
  exampleCluster.secret(namespace, name);

/**
 * The example cluster behind an API server whose watch cache answers Secret GETs with
 * `fromCache` and etcd with `fromEtcd`; it records where each snapshot read from.
 */
function viewWithCache(
  fromCache: (namespace: string, name: string) => Lookup<SecretFacts>,
  fromEtcd: (namespace: string, name: string) => Lookup<SecretFacts> = secretsOfTheExample,
): { view: ClusterView; reads: Freshness[] } {
  const reads: Freshness[] = [];
  const view: ClusterView = {
    isSynced: () => true,
    nebulaClusters: () => exampleCluster.nebulaClusters(),
    stop: async () => {},
    snapshot: async (_secrets, _signal, _backups, freshness = "latest") => {
      reads.push(freshness);
      const snapshot: ClusterSnapshot = {
        nebulaCluster: (namespace, name) => exampleCluster.nebulaCluster(namespace, name),
        nebulaBackup: (namespace, name) => exampleCluster.nebulaBackup(namespace, name),
        secret: freshness === "cached" ? fromCache : fromEtcd,
      };
      return snapshot;
    },
  };
  return { view, reads };
}

function createRequest(object: KubeObject, group: string, kind: string): AdmissionRequest {
  return {
    uid: "3d0f7a52-8d8e-4f57-9a0c-000000000001",
    group,
    version: group === "batch" ? "v1" : "v1alpha1",
    kind,
    namespace: object.metadata?.namespace ?? "default",
    name: object.metadata?.name ?? "",
    operation: "CREATE",
    object,
    oldObject: undefined,
    dryRun: false,
  };
}

const restore = () =>
  createRequest(example("restore-accepted.yaml"), "apps.nebula-graph.io", "NebulaRestore");
const notSeenYet = (): Lookup<SecretFacts> => ({ state: "absent" });
const deps = (view: ClusterView) => ({
  view,
  config: parseTestConfig(),
  logger: createLogger("silent"),
});

describe("where admission reads Secrets from: the watch cache, and etcd before a violation stands", () => {
  it("admits a restore on the watch cache's word, without reading etcd", async () => {
    const { view, reads } = viewWithCache(secretsOfTheExample);
    const admission = await admit(restore(), "validate", deps(view), AbortSignal.timeout(5000));
    assert.equal(admission.response.allowed, true);
    assert.deepEqual(reads, ["cached"]);
  });

  it("does not deny on the cache's word: a Secret the cache has not seen yet is read from etcd, and the restore admitted", async () => {
    const { view, reads } = viewWithCache(notSeenYet);
    const admission = await admit(restore(), "validate", deps(view), AbortSignal.timeout(5000));
    assert.equal(admission.response.allowed, true);
    assert.deepEqual(reads, ["cached", "latest"]);
  });

  it("denies when etcd agrees with the cache, with etcd's verdict", async () => {
    const { view, reads } = viewWithCache(notSeenYet, notSeenYet);
    const admission = await admit(restore(), "validate", deps(view), AbortSignal.timeout(5000));
    assert.equal(admission.response.allowed, false);
    assert.match(admission.response.status?.message ?? "", /aws-s3-secret|Secret/);
    assert.deepEqual(reads, ["cached", "latest"]);
  });

  it("checks a warning found on the cache's word against etcd too: no false warning for a Secret etcd has", async () => {
    const { view, reads } = viewWithCache(notSeenYet);
    const warnOnly = {
      ...deps(view),
      config: parseTestConfig({ rules: { "restore-secret-name": "warn" } }),
    };
    const admission = await admit(restore(), "validate", warnOnly, AbortSignal.timeout(5000));
    assert.equal(admission.response.allowed, true);
    assert.equal(admission.response.warnings, undefined);
    assert.deepEqual(reads, ["cached", "latest"]);
  });

  it("keeps the cache's verdict when etcd does not answer the second read", async () => {
    const { view, reads } = viewWithCache(notSeenYet, () => ({
      state: "unavailable",
      reason: "the API server did not answer in time",
    }));
    const admission = await admit(restore(), "validate", deps(view), AbortSignal.timeout(5000));
    assert.equal(admission.response.allowed, false);
    assert.doesNotMatch(admission.response.status?.message ?? "", /did not answer/);
    assert.deepEqual(reads, ["cached", "latest"]);
  });

  it("does not ask an API server that did not answer a second time: the denial says so at once", async () => {
    const { view, reads } = viewWithCache(() => ({
      state: "unavailable",
      reason: "the API server did not answer in time",
    }));
    const admission = await admit(restore(), "validate", deps(view), AbortSignal.timeout(5000));
    assert.equal(admission.response.allowed, false);
    assert.match(admission.response.status?.message ?? "", /did not answer in time/);
    assert.deepEqual(reads, ["cached"]);
  });

  it("a denial that read nothing from the API server is not judged twice", async () => {
    const job = createRequest(example("backup-job-denied.yaml"), "batch", "Job");
    const plan = planAdmission(job, "validate", parseTestConfig());
    assert.ok(plan.kind === "judge" && plan.secrets.length + plan.nebulaBackups.length === 0);
    const { view, reads } = viewWithCache(notSeenYet, notSeenYet);
    const admission = await admit(job, "validate", deps(view), AbortSignal.timeout(5000));
    assert.equal(admission.response.allowed, false);
    assert.deepEqual(reads, ["cached"]);
  });
});
