import {
  ADD,
  CoreV1Api,
  CustomObjectsApi,
  DELETE,
  ERROR,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  makeInformer,
  type ObjectCache,
  UPDATE,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { describeApiError, retryWhenAsked, statusCode } from "../kube/api-errors.js";
import type { KubeObject } from "../kube/objects.js";
import type { SecretRef } from "../rules/rule.js";
import {
  absent,
  type ClusterSnapshot,
  type ClusterView,
  clusterKey,
  found,
  type Lookup,
  type NebulaBackupFacts,
  type NebulaClusterFacts,
  type SecretFacts,
  unavailable,
} from "./cluster-view.js";
import { nebulaBackupFacts, nebulaClusterFacts, secretFacts } from "./nebula-cluster.js";

const GROUP = "apps.nebula-graph.io";
const VERSION = "v1alpha1";
const PLURAL = "nebulaclusters";

export interface LiveViewOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** How long a Secret GET may take before the lookup is `unavailable`. */
  readonly secretTimeoutMs: number;
  /** Called for every request sent to the API server (metrics, tests). */
  readonly onApiCall?: (verb: string, resource: string) => void;
  /** Called when a NebulaCluster is added, changed or deleted. */
  readonly onChange?: () => void;
}

/**
 * The live cluster: NebulaClusters from an informer cache (list once, then watch), Secrets
 * by a direct GET per admitted restore, reduced to their key names on arrival.
 */
export class LiveClusterView implements ClusterView {
  private readonly informer: Informer<KubernetesObject> & ObjectCache<KubernetesObject>;
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private synced = false;
  /** Set by the informer's list function when a list succeeded. */
  private listed = false;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private lastError: string | undefined;

  constructor(private readonly options: LiveViewOptions) {
    const custom = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.custom = custom;
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    const list = async () => {
      options.onApiCall?.("list", PLURAL);
      const listed = await retryWhenAsked(() =>
        custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL }),
      );
      this.listed = true;
      return listed;
    };
    this.informer = makeInformer(options.kubeConfig, `/apis/${GROUP}/${VERSION}/${PLURAL}`, list);
    for (const event of [ADD, UPDATE, DELETE] as const) {
      this.informer.on(event, (object) => {
        options.logger.debug(
          { event, cluster: `${object.metadata?.namespace}/${object.metadata?.name}` },
          "NebulaCluster changed",
        );
        options.onChange?.();
      });
    }
    this.informer.on(ERROR, (error) => this.restartAfterError(error));
  }

  /**
   * Starts the informer; resolves once the first list has arrived, or rejects. (The
   * informer itself resolves after a failed list too, reporting it as an ERROR event.)
   */
  async start(): Promise<void> {
    this.listed = false;
    await this.informer.start();
    if (!this.listed) throw new Error(this.lastError ?? "listing NebulaClusters failed");
    this.synced = true;
    this.lastError = undefined;
    this.options.logger.info({ clusters: this.informer.list().length }, "cluster view synced");
  }

  /** Keeps retrying the first sync in the background (readiness stays false meanwhile). */
  startInBackground(): void {
    this.start().catch((error: unknown) => this.restartAfterError(error));
  }

  private restartAfterError(error: unknown): void {
    if (this.stopped) return;
    this.lastError = describeApiError(error);
    this.options.logger.warn(
      { err: this.lastError },
      "cluster view lost its watch; restarting in 2s",
    );
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.start().catch((retryError: unknown) => this.restartAfterError(retryError));
    }, 2000);
    this.restartTimer.unref();
  }

  isSynced(): boolean {
    return this.synced;
  }

  nebulaClusters(): readonly NebulaClusterFacts[] {
    return this.informer
      .list()
      .map((object) => nebulaClusterFacts(object as KubeObject))
      .filter((facts): facts is NebulaClusterFacts => facts !== undefined);
  }

  async snapshot(
    secrets: readonly SecretRef[],
    signal: AbortSignal,
    nebulaBackups: readonly SecretRef[] = [],
  ): Promise<ClusterSnapshot> {
    const fetched = new Map<string, Lookup<SecretFacts>>();
    const backups = new Map<string, Lookup<NebulaBackupFacts>>();
    await Promise.all([
      ...secrets.map(async (ref) => {
        fetched.set(clusterKey(ref.namespace, ref.name), await this.fetchSecret(ref, signal));
      }),
      ...nebulaBackups.map(async (ref) => {
        backups.set(clusterKey(ref.namespace, ref.name), await this.fetchBackup(ref, signal));
      }),
    ]);
    const synced = this.synced;
    const reason = this.lastError ?? "the cluster view has not synced with the API server yet";
    return {
      nebulaCluster: (namespace, name) => {
        if (!synced) return unavailable(reason);
        const object = this.informer.get(name, namespace);
        const facts = object ? nebulaClusterFacts(object as KubeObject) : undefined;
        return facts ? found(facts) : absent;
      },
      secret: (namespace, name) =>
        fetched.get(clusterKey(namespace, name)) ?? unavailable("Secret was not fetched"),
      nebulaBackup: (namespace, name) =>
        backups.get(clusterKey(namespace, name)) ?? unavailable("NebulaBackup was not fetched"),
    };
  }

  /** GETs one NebulaBackup (the owner an operator Job names), within the Secret time-out. */
  private async fetchBackup(
    ref: SecretRef,
    signal: AbortSignal,
  ): Promise<Lookup<NebulaBackupFacts>> {
    this.options.onApiCall?.("get", "nebulabackups");
    const request = this.custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ref.namespace,
      plural: "nebulabackups",
      name: ref.name,
    });
    return this.withTimeout("the NebulaBackup", request, signal, (object) => {
      const facts = nebulaBackupFacts(object as KubeObject);
      return facts ? found(facts) : absent;
    });
  }

  /** Races an API call against the request's signal and the Secret time-out; 404 is `absent`. */
  private async withTimeout<T, R>(
    what: string,
    request: Promise<T>,
    signal: AbortSignal,
    toLookup: (value: T) => Lookup<R>,
  ): Promise<Lookup<R>> {
    const timeout = AbortSignal.any([signal, AbortSignal.timeout(this.options.secretTimeoutMs)]);
    const aborted = new Promise<never>((_, reject) => {
      const onAbort = () => reject(new Error("the API server did not answer in time"));
      if (timeout.aborted) onAbort();
      else timeout.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return toLookup(await Promise.race([request, aborted]));
    } catch (error) {
      if (statusCode(error) === 404) return absent;
      return unavailable(`reading ${what} failed: ${describeApiError(error)}`);
    } finally {
      request.catch(() => {}); // a late failure after a time-out is expected, not unhandled
    }
  }

  private async fetchSecret(ref: SecretRef, signal: AbortSignal): Promise<Lookup<SecretFacts>> {
    this.options.onApiCall?.("get", "secrets");
    const request = this.core.readNamespacedSecret({ name: ref.name, namespace: ref.namespace });
    return this.withTimeout("the Secret", request, signal, (secret) => {
      const facts = secretFacts(secret as KubeObject);
      return facts ? found(facts) : absent;
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.informer.stop();
  }
}
