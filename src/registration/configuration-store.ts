import {
  AdmissionregistrationV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1MutatingWebhookConfiguration,
  type V1ValidatingWebhookConfiguration,
} from "@kubernetes/client-node";
import { apiClient } from "../kube/api-client.js";
import { describeApiError, statusCode } from "../kube/api-errors.js";

export type ConfigurationKind = "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration";
export type WebhookConfiguration =
  | V1MutatingWebhookConfiguration
  | V1ValidatingWebhookConfiguration;

/** The field manager of everything `serve --register-webhooks` writes. */
export const FIELD_MANAGER = "nebula-br-webhook";

export type ConfigurationRead =
  | { readonly state: "found"; readonly configuration: WebhookConfiguration }
  | { readonly state: "absent" }
  | { readonly state: "error"; readonly reason: string };

/** `conflict`: it changed or was deleted since it was read (409), so read it again. */
export type ConfigurationWrite =
  | { readonly ok: true }
  | { readonly ok: false; readonly conflict: boolean; readonly reason: string };

/**
 * The two webhook configurations as the registrar reads and writes them: the edge between
 * the registration loop and the API server (a fake in the unit tests).
 */
export interface ConfigurationStore {
  read(kind: ConfigurationKind, name: string): Promise<ConfigurationRead>;
  /**
   * Server-side apply (force) of `configuration`, whose metadata.uid is the live one: the
   * API server then refuses (409) to create it again once it was deleted.
   */
  apply(kind: ConfigurationKind, configuration: WebhookConfiguration): Promise<ConfigurationWrite>;
  /** A plain update, optimistic: `configuration` carries the resourceVersion it was read at. */
  replace(
    kind: ConfigurationKind,
    configuration: WebhookConfiguration,
  ): Promise<ConfigurationWrite>;
}

const RESOURCE: Record<ConfigurationKind, string> = {
  MutatingWebhookConfiguration: "mutatingwebhookconfigurations",
  ValidatingWebhookConfiguration: "validatingwebhookconfigurations",
};

/** Both configurations through the API server. */
export function apiConfigurationStore(
  kubeConfig: KubeConfig,
  onApiCall: (verb: string, resource: string) => void = () => {},
): ConfigurationStore {
  const api = apiClient(kubeConfig, AdmissionregistrationV1Api);
  const applyOptions = setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply);
  const written = async (
    kind: ConfigurationKind,
    name: string,
    call: () => Promise<unknown>,
  ): Promise<ConfigurationWrite> => {
    try {
      await call();
      return { ok: true };
    } catch (error) {
      if (statusCode(error) === 409)
        return { ok: false, conflict: true, reason: "changed or deleted meanwhile" };
      return { ok: false, conflict: false, reason: problem(error, kind, name) };
    }
  };
  return {
    async read(kind, name) {
      onApiCall("get", RESOURCE[kind]);
      try {
        const configuration =
          kind === "MutatingWebhookConfiguration"
            ? await api.readMutatingWebhookConfiguration({ name })
            : await api.readValidatingWebhookConfiguration({ name });
        return { state: "found", configuration };
      } catch (error) {
        if (statusCode(error) === 404) return { state: "absent" };
        return { state: "error", reason: problem(error, kind, name) };
      }
    },
    apply(kind, configuration) {
      onApiCall("apply", RESOURCE[kind]);
      const name = configuration.metadata?.name ?? "";
      const request = {
        name,
        // Plain JSON, not a client model: every field in it is one the field manager owns.
        body: JSON.parse(JSON.stringify(configuration)),
        fieldManager: FIELD_MANAGER,
        force: true,
      };
      return written(kind, name, () =>
        kind === "MutatingWebhookConfiguration"
          ? api.patchMutatingWebhookConfiguration(request, applyOptions)
          : api.patchValidatingWebhookConfiguration(request, applyOptions),
      );
    },
    replace(kind, configuration) {
      onApiCall("update", RESOURCE[kind]);
      const name = configuration.metadata?.name ?? "";
      return written(kind, name, () =>
        kind === "MutatingWebhookConfiguration"
          ? api.replaceMutatingWebhookConfiguration({
              name,
              body: configuration as V1MutatingWebhookConfiguration,
            })
          : api.replaceValidatingWebhookConfiguration({
              name,
              body: configuration as V1ValidatingWebhookConfiguration,
            }),
      );
    },
  };
}

/** Says what to do for the failures a person can fix. */
function problem(error: unknown, kind: ConfigurationKind, name: string): string {
  if (statusCode(error) === 403)
    return `forbidden: the webhook's ServiceAccount needs get, patch and update on ${RESOURCE[kind]} named "${name}" (manifests/base/rbac.yaml)`;
  return describeApiError(error);
}
