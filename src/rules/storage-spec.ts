import { Ajv, type ValidateFunction } from "ajv";
import brSchema from "../../schemas/nebularestore-br.schema.json" with { type: "json" };
import configSchema from "../../schemas/nebularestore-config.schema.json" with { type: "json" };
import storageSchema from "../../schemas/storage.schema.json" with { type: "json" };
import { field, type KubeObject } from "../kube/objects.js";
import { schemaViolations } from "./schema-messages.js";

/** Types of the restore/backup spec fields the rules read; ajv has checked them. */
export interface S3Location {
  region?: string;
  bucket?: string;
  endpoint?: string;
  secretName?: string;
}

export interface GsLocation {
  location?: string;
  bucket?: string;
  secretName?: string;
}

export interface BrSpec {
  clusterName?: string;
  clusterNamespace?: string;
  backupName?: string;
  concurrency?: number;
  s3?: S3Location;
  gs?: GsLocation;
}

/** The two spec shapes in use: `spec.br` (operator 1.4–1.7) and `spec.config` (1.8+). */
export type SpecShape = "br" | "config";

/** A spec that passed its schema, with what the rules need to talk about it. */
export interface ReadSpec {
  readonly shape: SpecShape;
  /** `spec.br` or `spec.config`: the prefix of every field path in messages. */
  readonly basePath: string;
  readonly spec: BrSpec;
  /** Credential keys the Secret must hold, by storage kind. */
  readonly requiredKeys: { readonly s3: readonly string[]; readonly gs: readonly string[] };
}

export type SpecReading =
  | { ok: true; value: ReadSpec }
  | { ok: false; violations: { path: string; message: string }[] };

const ajv = new Ajv({ allErrors: true, schemas: [storageSchema] });
const validators: Record<SpecShape, ValidateFunction> = {
  br: ajv.compile(brSchema),
  config: ajv.compile(configSchema),
};

const REQUIRED_KEYS: Record<SpecShape, ReadSpec["requiredKeys"]> = {
  br: { s3: ["access-key", "secret-key"], gs: ["credentials"] },
  config: { s3: ["access_key", "secret_key"], gs: ["credentials"] },
};

/** `spec.br` knows S3 only; `spec.config` adds Google Cloud Storage. */
const STORAGES: Record<SpecShape, readonly ("s3" | "gs")[]> = { br: ["s3"], config: ["s3", "gs"] };

const readings = new WeakMap<KubeObject, SpecReading>();

/**
 * Picks the spec shape and checks its types once per object (memoised: every restore rule
 * asks). Exactly one of `spec.br` and `spec.config` must be present.
 */
export function readSpec(object: KubeObject, shapes: readonly SpecShape[]): SpecReading {
  const cached = readings.get(object);
  if (cached) return cached;
  const reading = readUncached(object, shapes);
  readings.set(object, reading);
  return reading;
}

function readUncached(object: KubeObject, shapes: readonly SpecShape[]): SpecReading {
  const present = shapes.filter((shape) => field(object, "spec", shape) !== undefined);
  const fields = shapes.map((s) => `spec.${s}`).join(" or ");
  if (present.length === 0) {
    return { ok: false, violations: [{ path: "spec", message: `set ${fields}` }] };
  }
  if (present.length > 1) {
    return {
      ok: false,
      violations: [{ path: "spec", message: `set only one of ${fields}, not both` }],
    };
  }
  const shape = present[0] as SpecShape;
  const validate = validators[shape];
  if (!validate(object)) return { ok: false, violations: schemaViolations(validate.errors, "") };
  const spec = field(object, "spec", shape) as BrSpec;
  const basePath = `spec.${shape}`;
  const supported = STORAGES[shape];
  const storages = supported.filter((s) => spec[s] !== undefined);
  if (storages.length !== 1) {
    const choices = supported.join(" or ");
    const message =
      storages.length === 0
        ? `set ${choices} (where the backup is stored)`
        : `set only one of ${choices}`;
    return { ok: false, violations: [{ path: basePath, message }] };
  }
  return { ok: true, value: { shape, basePath, spec, requiredKeys: REQUIRED_KEYS[shape] } };
}
