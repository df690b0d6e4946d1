import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { apiWatch, getJson } from "../kube/api-client.js";
import { describeApiError, retryWhenAsked, statusCode } from "../kube/api-errors.js";
import { collectionPath, type ListPage, listPath, objectPath } from "../kube/api-paths.js";
import type { KubeObject } from "../kube/objects.js";
import { ReducedListWatch } from "../kube/reduced-list-watch.js";
import type { SecretRef } from "../rules/rule.js";
import {
  absent,
  type ClusterSnapshot,
  type ClusterView,
  clusterKey,
  type Freshness,
  found,
  type Lookup,
  type NebulaBackupFacts,
  type NebulaClusterFacts,
  type SecretFacts,
  unavailable,
} from "./cluster-view.js";
import { nebulaBackupFacts, nebulaClusterFacts, secretFacts } from "./nebula-cluster.js";

const NEBULA = "apps.nebula-graph.io/v1alpha1";
const PLURAL = "nebulaclusters";
/**
 * NebulaClusters per list page. An operator's NebulaCluster is ~7 KB as listed (spec, status,
 * managedFields, last-applied annotation): a page of 500 is 3.5 MB of JSON and ~12 MB parsed,
 * which pushed the webhook's peak RSS to 240 MiB at 10,000 clusters; pages of 100 keep it at
 * ~190 MiB (little over the start-up peak) and sync as fast (bench/README.md).
 */
const CLUSTERS_PER_PAGE = 100;
/** How long a page's answer may take to start, or stall; then the list is tried again. */
const LIST_PAGE_TIMEOUT_MS = 30_000;

/**
 * A GET answered from the API server's watch cache: `resourceVersion=0` ("any version,
 * preferably the latest the cache holds"), the same `get` permission. Measured on a restore's
 * Secret read through the e2e API server (2026-11-27, the webhook's own time): p50 1.73 ->
 * 1.18 ms, p99 6.9 -> 4.8 ms. Only Secrets are read so (admit.ts says when etcd is asked too).
 */
const FROM_WATCH_CACHE = "?resourceVersion=0";

const DEADLINE_PASSED = "the API server did not answer in time";

/** When the reads of one snapshot must have been answered; see readDeadline. */
interface ReadDeadline {
  /** Rejects when the request's signal aborts or the time-out passes; raced by every read. */
  readonly expired: Promise<never>;
  passed(): boolean;
  /** How long until it passes. */
  leftMs(): number;
  clear(): void;
}

/**
 * One timer and one abort listener for all the reads of a snapshot (an audit page reads up
 * to 500 Secrets on one signal: a listener each would pass EventTarget's limit of 10),
 * cleared as soon as they are answered. Not AbortSignal.timeout/any: their timer and signals
 * outlive the reads by the whole time-out, and V8's young-generation collector keeps them,
 * so every read's promises reached the old generation and the collections that copied and
 * then swept them paused the admissions running then (bench/README.md, the seventh pass).
 */
function readDeadline(signal: AbortSignal, ms: number): ReadDeadline {
  const endsAt = performance.now() + ms;
  let passed = signal.aborted;
  let timer: NodeJS.Timeout | undefined;
  let expire: (() => void) | undefined;
  const expired = new Promise<never>((_, reject) => {
    expire = () => {
      passed = true;
      reject(new Error(DEADLINE_PASSED));
    };
    if (passed) {
      expire();
    } else {
      signal.addEventListener("abort", expire, { once: true });
      timer = setTimeout(expire, ms);
    }
  });
  expired.catch(() => {}); // with no read left to race it, an expiry is no error
  return {
    expired,
    passed: () => passed,
    leftMs: () => (passed ? 0 : endsAt - performance.now()),
    clear() {
      clearTimeout(timer);
      if (expire) signal.removeEventListener("abort", expire);
    },
  };
}

export interface LiveViewOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** How long a Secret GET may take before the lookup is `unavailable`. */
  readonly secretTimeoutMs: number;
  /** Called for every request sent to the API server (metrics, tests). */
  readonly onApiCall?: (verb: string, resource: string) => void;
  /** Called when what the rules read of a NebulaCluster was added, changed or deleted. */
  readonly onChange?: () => void;
  /** NebulaClusters per list page (100). */
  readonly pageSize?: number;
}

/**
 * The live cluster: NebulaClusters from a list-watch cache that keeps only the facts the
 * rules read (an operator's NebulaCluster is ~7 KB with its status; its facts ~200 bytes),
 * Secrets by a direct GET per admitted restore, reduced to their key names on arrival. All
 * requests share one kept-alive connection pool (src/kube/api-client.ts).
 */
export class LiveClusterView implements ClusterView {
  private readonly clusters: ReducedListWatch<NebulaClusterFacts>;
  private lastError: string | undefined;

  constructor(private readonly options: LiveViewOptions) {
    // A plain GET on the shared pool, as the Secret reads (getJson says why not client-node's).
    const listPage = (limit: number, continueToken: string | undefined) => {
      const path = listPath(NEBULA, PLURAL, { limit, continueToken });
      return retryWhenAsked(
        () => getJson(options.kubeConfig, path, LIST_PAGE_TIMEOUT_MS) as Promise<ListPage>,
      );
    };
    this.clusters = new ReducedListWatch({
      path: collectionPath(NEBULA, PLURAL),
      watch: apiWatch(options.kubeConfig),
      listPage,
      reduce: nebulaClusterFacts,
      pageSize: options.pageSize ?? CLUSTERS_PER_PAGE,
      onList: () => options.onApiCall?.("list", PLURAL),
      onListed: (clusters) => {
        this.lastError = undefined;
        options.logger.info({ clusters }, "cluster view synced");
      },
      onChange: () => {
        options.logger.debug("NebulaClusters changed");
        options.onChange?.();
      },
      onTrouble: (what, error, retryInMs) => {
        this.lastError = describeApiError(error);
        options.logger.warn(
          { err: this.lastError, retryInMs },
          what === "list"
            ? "cluster view could not list NebulaClusters; retrying"
            : "cluster view lost its watch; resuming",
        );
      },
    });
  }

  /**
   * Lists the NebulaClusters, then watches them; resolves once the first list is complete,
   * or rejects if it failed (the view keeps trying in the background until stopped).
   */
  start(): Promise<void> {
    return this.clusters.start();
  }

  /** Keeps trying the first sync in the background (readiness stays false meanwhile). */
  startInBackground(): void {
    // A failed list is logged (onTrouble) and retried by the list-watch until it succeeds.
    this.start().catch(() => {});
  }

  isSynced(): boolean {
    return this.clusters.isSynced();
  }

  nebulaClusters(): readonly NebulaClusterFacts[] {
    return this.clusters.values();
  }

  async snapshot(
    secrets: readonly SecretRef[],
    signal: AbortSignal,
    nebulaBackups: readonly SecretRef[] = [],
    freshness: Freshness = "latest",
  ): Promise<ClusterSnapshot> {
    const fetched = new Map<string, Lookup<SecretFacts>>();
    const backups = new Map<string, Lookup<NebulaBackupFacts>>();
    const deadline = readDeadline(signal, this.options.secretTimeoutMs);
    try {
      await Promise.all([
        ...secrets.map(async (ref) => {
          fetched.set(
            clusterKey(ref.namespace, ref.name),
            await this.fetchSecret(ref, deadline, freshness),
          );
        }),
        ...nebulaBackups.map(async (ref) => {
          backups.set(clusterKey(ref.namespace, ref.name), await this.fetchBackup(ref, deadline));
        }),
      ]);
    } finally {
      deadline.clear();
    }
    const synced = this.clusters.isSynced();
    const reason = this.lastError ?? "the cluster view has not synced with the API server yet";
    return {
      nebulaCluster: (namespace, name) => {
        if (!synced) return unavailable(reason);
        const facts = this.clusters.get(namespace, name);
        return facts ? found(facts) : absent;
      },
      secret: (namespace, name) =>
        fetched.get(clusterKey(namespace, name)) ?? unavailable("Secret was not fetched"),
      nebulaBackup: (namespace, name) =>
        backups.get(clusterKey(namespace, name)) ?? unavailable("NebulaBackup was not fetched"),
    };
  }

  /**
   * GETs one NebulaBackup (the owner an operator Job names), within the Secret time-out.
   * Always from etcd, never the watch cache: it is what admits an operator Job, and a
   * NebulaBackup deleted to revoke that must not keep admitting while a cache lags.
   */
  private async fetchBackup(
    ref: SecretRef,
    deadline: ReadDeadline,
  ): Promise<Lookup<NebulaBackupFacts>> {
    const path = objectPath(NEBULA, "nebulabackups", ref);
    if (path === undefined) return absent;
    this.options.onApiCall?.("get", "nebulabackups");
    const get = () => getJson(this.options.kubeConfig, path, this.options.secretTimeoutMs);
    return this.withTimeout("the NebulaBackup", get, deadline, (object) => {
      const facts = nebulaBackupFacts(object as KubeObject);
      return facts ? found(facts) : absent;
    });
  }

  /**
   * Races a GET against the snapshot's deadline; 404 is `absent`. The GET is sent again once
   * if the API server asks (429, 503) or its connection is dropped under it (retryWhenAsked),
   * when that can be done before the deadline. Nothing is sent once the deadline has passed.
   */
  private async withTimeout<T, R>(
    what: string,
    get: () => Promise<T>,
    deadline: ReadDeadline,
    toLookup: (value: T) => Lookup<R>,
  ): Promise<Lookup<R>> {
    if (deadline.passed()) return unavailable(`reading ${what} failed: ${DEADLINE_PASSED}`);
    const request = retryWhenAsked(get, 2, (waitMs) => waitMs < deadline.leftMs());
    try {
      return toLookup(await Promise.race([request, deadline.expired]));
    } catch (error) {
      if (statusCode(error) === 404) return absent;
      return unavailable(`reading ${what} failed: ${describeApiError(error)}`);
    } finally {
      request.catch(() => {}); // a late failure after a time-out is expected, not unhandled
    }
  }

  private async fetchSecret(
    ref: SecretRef,
    deadline: ReadDeadline,
    freshness: Freshness,
  ): Promise<Lookup<SecretFacts>> {
    const path = objectPath("v1", "secrets", ref);
    if (path === undefined) return absent;
    this.options.onApiCall?.("get", "secrets");
    const query = freshness === "cached" ? FROM_WATCH_CACHE : "";
    const get = () =>
      getJson(this.options.kubeConfig, `${path}${query}`, this.options.secretTimeoutMs);
    return this.withTimeout("the Secret", get, deadline, (secret) => {
      const facts = secretFacts(secret as KubeObject);
      return facts ? found(facts) : absent;
    });
  }

  async stop(): Promise<void> {
    await this.clusters.stop();
  }
}
