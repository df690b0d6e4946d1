import { Ajv, type ValidateFunction } from "ajv";
import backupSchema from "../../schemas/nebulabackup.schema.json" with { type: "json" };
import restoreBrSchema from "../../schemas/nebularestore-br.schema.json" with { type: "json" };
import restoreConfigSchema from "../../schemas/nebularestore-config.schema.json" with {
  type: "json",
};
import storageSchema from "../../schemas/storage.schema.json" with { type: "json" };
import { field, type KubeObject } from "../kube/objects.js";
import { type LastMemo, lastMemo } from "../last-memo.js";
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
  baseBackupName?: string;
  concurrency?: number;
  s3?: S3Location;
  gs?: GsLocation;
}

/** The two spec shapes in use: `spec.br` (operator 1.4–1.7) and `spec.config` (1.8+). */
export type SpecShape = "br" | "config";

/** Where an object kind keeps its BR settings, and the schema of each shape it may use. */
export interface SpecLayout {
  /** The object holding `br`/`config`: `spec`, or `spec.backupTemplate` for cron backups. */
  readonly path: readonly string[];
  readonly shapes: Partial<Record<SpecShape, ValidateFunction>>;
}

/** A spec that passed its schema, with what the rules need to talk about it. */
export interface ReadSpec {
  readonly shape: SpecShape;
  /** `spec.br`, `spec.config`, `spec.backupTemplate.config`: the prefix of field paths in messages. */
  readonly basePath: string;
  /** Where the settings live, for mutations. */
  readonly settingsPath: readonly string[];
  readonly spec: BrSpec;
  /** Credential keys the Secret must hold, by storage kind. */
  readonly requiredKeys: { readonly s3: readonly string[]; readonly gs: readonly string[] };
}

export type SpecReading =
  | { ok: true; value: ReadSpec }
  | { ok: false; violations: { path: string; message: string }[] };

const ajv = new Ajv({ allErrors: true, schemas: [storageSchema] });

export const RESTORE_LAYOUT: SpecLayout = {
  path: ["spec"],
  shapes: { br: ajv.compile(restoreBrSchema), config: ajv.compile(restoreConfigSchema) },
};
export const BACKUP_LAYOUT: SpecLayout = {
  path: ["spec"],
  shapes: { config: ajv.compile(backupSchema) },
};
export const CRON_BACKUP_LAYOUT: SpecLayout = {
  path: ["spec", "backupTemplate"],
  shapes: BACKUP_LAYOUT.shapes,
};

const REQUIRED_KEYS: Record<SpecShape, ReadSpec["requiredKeys"]> = {
  br: { s3: ["access-key", "secret-key"], gs: ["credentials"] },
  config: { s3: ["access_key", "secret_key"], gs: ["credentials"] },
};

/** `spec.br` knows S3 only; `spec.config` adds Google Cloud Storage. */
const STORAGES: Record<SpecShape, readonly ("s3" | "gs")[]> = { br: ["s3"], config: ["s3", "gs"] };

/** Per layout, the last object read (last-memo.ts says why not a WeakMap). */
const readings = new Map<SpecLayout, LastMemo<KubeObject, SpecReading>>();

/**
 * Picks the spec shape and checks its types once per object and layout (memoised: every
 * rule asks). Exactly one of the layout's shapes must be present.
 */
export function readSpec(object: KubeObject, layout: SpecLayout): SpecReading {
  let cache = readings.get(layout);
  if (!cache) {
    cache = lastMemo();
    readings.set(layout, cache);
  }
  const cached = cache.get(object);
  if (cached) return cached;
  const reading = readUncached(object, layout);
  cache.set(object, reading);
  return reading;
}

function readUncached(object: KubeObject, layout: SpecLayout): SpecReading {
  const prefix = layout.path.join(".");
  const holder = field(object, ...layout.path);
  const shapes = Object.keys(layout.shapes) as SpecShape[];
  const fields = shapes.map((s) => `${prefix}.${s}`).join(" or ");
  const present = shapes.filter((shape) => field(holder, shape) !== undefined);
  if (present.length !== 1) {
    const message = present.length === 0 ? `set ${fields}` : `set only one of ${fields}, not both`;
    return { ok: false, violations: [{ path: prefix, message }] };
  }
  const shape = present[0] as SpecShape;
  const validate = layout.shapes[shape] as ValidateFunction;
  if (!validate(holder))
    return { ok: false, violations: schemaViolations(validate.errors, prefix) };
  const spec = field(holder, shape) as BrSpec;
  const basePath = `${prefix}.${shape}`;
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
  return {
    ok: true,
    value: {
      shape,
      basePath,
      settingsPath: [...layout.path, shape],
      spec,
      requiredKeys: REQUIRED_KEYS[shape],
    },
  };
}
