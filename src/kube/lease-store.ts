import {
  CoordinationV1Api,
  type KubeConfig,
  type V1Lease,
  V1MicroTime,
} from "@kubernetes/client-node";
import type {
  LeaseRead,
  LeaseRecord,
  LeaseStore,
  LeaseWrite,
  StoredLease,
} from "../audit/leader-election.js";
import { apiClient } from "./api-client.js";
import { describeApiError, statusCode } from "./api-errors.js";

/** A `coordination.k8s.io/v1` Lease through the API server. */
export function kubeLeaseStore(
  kubeConfig: KubeConfig,
  namespace: string,
  name: string,
  onApiCall: (verb: string, resource: string) => void = () => {},
): LeaseStore {
  const api = apiClient(kubeConfig, CoordinationV1Api);
  const describe = `${namespace}/${name}`;
  const body = (record: LeaseRecord, resourceVersion?: string): V1Lease => ({
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name, namespace, ...(resourceVersion ? { resourceVersion } : {}) },
    spec: {
      holderIdentity: record.holderIdentity,
      leaseDurationSeconds: record.leaseDurationSeconds,
      // MicroTime: the API server wants six fractional digits, which V1MicroTime prints.
      acquireTime: new V1MicroTime(record.acquireTime.getTime()),
      renewTime: new V1MicroTime(record.renewTime.getTime()),
      leaseTransitions: record.leaseTransitions,
    },
  });
  const written = async (
    verb: "create" | "update",
    call: () => Promise<V1Lease>,
  ): Promise<LeaseWrite> => {
    try {
      const lease = stored(await call());
      return lease
        ? { ok: true, lease }
        : { ok: false, conflict: false, reason: "the API server returned a Lease without spec" };
    } catch (error) {
      const code = statusCode(error);
      if (code === 409) return { ok: false, conflict: true, reason: "conflict" };
      return { ok: false, conflict: false, reason: leaseProblem(error, namespace, verb) };
    }
  };
  return {
    describe,
    async get(): Promise<LeaseRead> {
      onApiCall("get", "leases");
      try {
        const lease = stored(await api.readNamespacedLease({ name, namespace }));
        return lease
          ? { state: "found", lease }
          : { state: "error", reason: "the Lease has no spec" };
      } catch (error) {
        if (statusCode(error) === 404) return { state: "absent" };
        return { state: "error", reason: leaseProblem(error, namespace, "get") };
      }
    },
    create(record) {
      onApiCall("create", "leases");
      return written("create", () => api.createNamespacedLease({ namespace, body: body(record) }));
    },
    update(record, resourceVersion) {
      onApiCall("update", "leases");
      return written("update", () =>
        api.replaceNamespacedLease({ name, namespace, body: body(record, resourceVersion) }),
      );
    },
  };
}

/** Says what to do for the failures a person can fix. */
function leaseProblem(
  error: unknown,
  namespace: string,
  verb: "get" | "create" | "update",
): string {
  const code = statusCode(error);
  if (code === 404 && verb === "update") return "the Lease was deleted meanwhile";
  if (code === 404 && verb === "create")
    return `namespace "${namespace}" not found: create it, or pass --service-namespace (or --audit-lease-duration 0 to run the audit without a lease, on one replica only)`;
  if (code === 403)
    return `forbidden: the webhook's ServiceAccount needs get, create and update on leases in namespace "${namespace}" (manifests/base/rbac.yaml)`;
  return describeApiError(error);
}

function stored(lease: V1Lease): StoredLease | undefined {
  const spec = lease.spec;
  const resourceVersion = lease.metadata?.resourceVersion;
  if (!spec || !resourceVersion) return undefined;
  return {
    resourceVersion,
    record: {
      holderIdentity: spec.holderIdentity ?? "",
      leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
      acquireTime: asDate(spec.acquireTime),
      renewTime: asDate(spec.renewTime),
      leaseTransitions: spec.leaseTransitions ?? 0,
    },
  };
}

/** client-node 2.x leaves MicroTime fields as the server's strings at run time. */
function asDate(value: Date | string | undefined): Date {
  const date = value === undefined ? new Date(0) : new Date(value);
  return Number.isNaN(date.getTime()) ? new Date(0) : date;
}
