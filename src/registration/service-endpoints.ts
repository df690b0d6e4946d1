import { DiscoveryV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { apiClient } from "../kube/api-client.js";
import { describeApiError, statusCode } from "../kube/api-errors.js";
import type { Readiness } from "./registrar.js";

/**
 * Ready once the Service has a ready endpoint: the API server calls the webhook through the
 * Service, so registering before kubelet marked a replica ready would refuse guarded objects
 * for those few seconds. Without the right to list EndpointSlices (an older RBAC) it says so
 * once and leaves it to the replica's own readiness.
 */
export function serviceEndpointsReady(
  kubeConfig: KubeConfig,
  service: { readonly namespace: string; readonly name: string },
  logger: Logger,
): () => Promise<Readiness> {
  const api = apiClient(kubeConfig, DiscoveryV1Api);
  const waitingFor = `a ready endpoint of Service ${service.namespace}/${service.name}`;
  let forbidden = false;
  return async () => {
    if (forbidden) return { ready: true };
    try {
      const slices = await api.listNamespacedEndpointSlice({
        namespace: service.namespace,
        labelSelector: `kubernetes.io/service-name=${service.name}`,
      });
      // A condition that is not set means ready (discovery.k8s.io/v1).
      const ready = slices.items.some((slice) =>
        (slice.endpoints ?? []).some((endpoint) => endpoint.conditions?.ready !== false),
      );
      return ready ? { ready: true } : { ready: false, waitingFor };
    } catch (error) {
      if (statusCode(error) === 403) {
        forbidden = true;
        logger.warn(
          { service: `${service.namespace}/${service.name}` },
          "cannot list EndpointSlices (manifests/base/rbac.yaml grants it): registering once this replica is ready, without waiting for the Service",
        );
        return { ready: true };
      }
      return { ready: false, waitingFor: `${waitingFor} (${describeApiError(error)})` };
    }
  };
}
