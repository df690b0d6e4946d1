import { isObject, type KubeObject } from "../kube/objects.js";
import type { AdmissionOperation } from "../rules/rule.js";

/** The part of an AdmissionReview request the webhook reads. */
export interface AdmissionRequest {
  readonly uid: string;
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly operation: AdmissionOperation;
  readonly object: KubeObject | undefined;
  readonly oldObject: KubeObject | undefined;
  readonly dryRun: boolean;
}

/** Why a body is not a usable AdmissionReview; `uid` is set when one could still be answered. */
export interface DecodeError {
  readonly uid: string | undefined;
  readonly reason: string;
}

export type Decoded = { ok: true; request: AdmissionRequest } | { ok: false; error: DecodeError };

const OPERATIONS: readonly AdmissionOperation[] = ["CREATE", "UPDATE", "DELETE", "CONNECT"];

/** Checks an AdmissionReview (admission.k8s.io/v1) and extracts the request. */
export function decodeReview(body: unknown): Decoded {
  const fail = (reason: string, uid?: string): Decoded => ({ ok: false, error: { uid, reason } });
  if (!isObject(body)) return fail("body is not a JSON object");
  if (body.apiVersion !== "admission.k8s.io/v1" || body.kind !== "AdmissionReview") {
    return fail(
      // Values sent to us are never repeated: a malformed body may hold anything.
      "expected apiVersion admission.k8s.io/v1 and kind AdmissionReview",
    );
  }
  const request = body.request;
  if (!isObject(request)) return fail("request is missing");
  const uid = request.uid;
  if (typeof uid !== "string" || uid.length === 0 || uid.length > 256)
    return fail("request.uid is missing");
  const kind = request.kind;
  if (
    !isObject(kind) ||
    typeof kind.kind !== "string" ||
    typeof kind.version !== "string" ||
    typeof (kind.group ?? "") !== "string"
  ) {
    return fail("request.kind must be {group, version, kind}", uid);
  }
  const operation = request.operation as AdmissionOperation;
  if (!OPERATIONS.includes(operation))
    return fail(`request.operation is not one of ${OPERATIONS.join(", ")}`, uid);
  const object = optionalObject(request.object);
  const oldObject = optionalObject(request.oldObject);
  if (object === null || oldObject === null)
    return fail("request.object and request.oldObject must be objects when present", uid);
  if ((operation === "CREATE" || operation === "UPDATE") && !object)
    return fail(`request.object is required for ${operation}`, uid);
  return {
    ok: true,
    request: {
      uid,
      group: (kind.group as string | undefined) ?? "",
      version: kind.version,
      kind: kind.kind,
      namespace:
        typeof request.namespace === "string"
          ? request.namespace
          : (object?.metadata?.namespace ?? ""),
      name: typeof request.name === "string" ? request.name : (object?.metadata?.name ?? ""),
      operation,
      object,
      oldObject,
      dryRun: request.dryRun === true,
    },
  };
}

/** undefined when absent, null when present but not an object. */
function optionalObject(value: unknown): KubeObject | undefined | null {
  if (value === undefined || value === null) return undefined;
  return isObject(value) ? (value as KubeObject) : null;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string; reason?: string };
  warnings?: string[];
  patchType?: "JSONPatch";
  patch?: string;
  auditAnnotations?: Record<string, string>;
}

export function encodeReview(response: AdmissionResponse): object {
  return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response };
}

/** An AdmissionReview request as the API server would send it for this object (for tools and tests). */
export function reviewFor(
  object: KubeObject,
  options: {
    uid: string;
    operation?: AdmissionOperation;
    oldObject?: KubeObject;
    dryRun?: boolean;
  },
): object {
  const apiVersion = object.apiVersion ?? "v1";
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const kind = { group, version, kind: object.kind ?? "" };
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: options.uid,
      kind,
      resource: { group, version, resource: `${(object.kind ?? "").toLowerCase()}s` },
      requestKind: kind,
      name: object.metadata?.name,
      namespace: object.metadata?.namespace,
      operation: options.operation ?? "CREATE",
      userInfo: {
        username: "kubernetes-admin",
        groups: ["system:masters", "system:authenticated"],
      },
      object,
      oldObject: options.oldObject ?? null,
      dryRun: options.dryRun ?? false,
    },
  };
}
