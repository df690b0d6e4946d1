/** The parts of object metadata the webhook reads. */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/**
 * Any Kubernetes object as it arrives in an AdmissionReview. Fields beyond metadata are
 * unknown until a schema or a guard has checked them.
 */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [field: string]: unknown;
}

export type JsonObject = { [key: string]: unknown };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reads a nested field without trusting the shape on the way. */
export function field(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (!isObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

export function stringField(value: unknown, ...path: string[]): string | undefined {
  const found = field(value, ...path);
  return typeof found === "string" ? found : undefined;
}

export function objectName(object: KubeObject): string {
  return object.metadata?.name ?? object.metadata?.generateName ?? "<unnamed>";
}

/** `group/Kind`, the key rules and reports use for a kind ("batch/Job", "/ConfigMap"). */
export function groupKind(group: string, kind: string): string {
  return `${group}/${kind}`;
}

/**
 * A deep copy of parsed JSON (objects, arrays, strings, numbers, booleans, null): ten times
 * cheaper than structuredClone, which also handles what JSON cannot hold. A `__proto__` key,
 * which JSON.parse keeps as a plain property, stays a plain property in the copy.
 */
export function copyJson<T>(value: T): T {
  if (Array.isArray(value)) {
    const copy = new Array(value.length);
    for (let i = 0; i < value.length; i++) copy[i] = copyJson(value[i]);
    return copy as T;
  }
  if (value === null || typeof value !== "object") return value;
  const copy: JsonObject = {};
  for (const key of Object.keys(value)) {
    const item = copyJson((value as JsonObject)[key]);
    if (key === "__proto__")
      Object.defineProperty(copy, key, {
        value: item,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else copy[key] = item;
  }
  return copy as T;
}
