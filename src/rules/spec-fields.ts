import { isObject } from "../kube/objects.js";

/**
 * The spec fields the operator's CRDs know, level by level: a nested tree is descended,
 * `true` is a field whose contents are Kubernetes types (or scalars) and not looked into.
 * The API server prunes unknown fields of a structural CRD silently (or rejects them with
 * strict field validation), and an older CRD that preserves them stores them unread: either
 * way the operator never sees a misplaced field (nebula-operator#456: `spec.concurrency`).
 */
export interface FieldTree {
  readonly [name: string]: FieldTree | true;
}

const S3: FieldTree = { region: true, bucket: true, endpoint: true, secretName: true };
const GS: FieldTree = { location: true, bucket: true, secretName: true };

const POD_SETTINGS: FieldTree = { nodeSelector: true, affinity: true, tolerations: true };

/** NebulaRestore: `spec.br` up to operator 1.7, `spec.config` from 1.8. */
export const RESTORE_FIELDS: FieldTree = {
  ...POD_SETTINGS,
  autoRemoveFailed: true,
  br: { clusterName: true, clusterNamespace: true, backupName: true, concurrency: true, s3: S3 },
  config: {
    clusterName: true,
    clusterNamespace: true,
    backupName: true,
    concurrency: true,
    s3: S3,
    gs: GS,
  },
};

/** NebulaBackup's spec, and a NebulaCronBackup's `spec.backupTemplate` (operator 1.8+). */
export const BACKUP_FIELDS: FieldTree = {
  ...POD_SETTINGS,
  image: true,
  version: true,
  imagePullPolicy: true,
  imagePullSecrets: true,
  resources: true,
  env: true,
  volumes: true,
  volumeMounts: true,
  initContainers: true,
  sidecarContainers: true,
  autoRemoveFinished: true,
  cleanBackupData: true,
  config: {
    clusterName: true,
    clusterNamespace: true,
    baseBackupName: true,
    concurrency: true,
    s3: S3,
    gs: GS,
  },
};

export const CRON_BACKUP_FIELDS: FieldTree = {
  schedule: true,
  pause: true,
  maxReservedTime: true,
  backupTemplate: BACKUP_FIELDS,
};

export interface UnknownField {
  /** Where the field is, e.g. `spec.concurrency`. */
  readonly path: string;
  /** Its likely place or spelling, e.g. `spec.config.concurrency`; absent when none is close. */
  readonly suggestion: string | undefined;
}

/** A field name safe to repeat in a message: the user's own key, but never a long or odd one. */
const PRINTABLE_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/;

/**
 * Every field of `value` the tree does not know, with where it probably belongs: the same
 * name elsewhere in the tree (a misplaced field), else a known name at most two edits away
 * (a misspelled one).
 */
export function unknownFields(value: unknown, tree: FieldTree, basePath: string): UnknownField[] {
  const places = allPlaces(tree, basePath);
  const found: UnknownField[] = [];
  /** Known objects the value has, so a suggestion prefers the branch in use (config over br). */
  const present = new Set<string>();
  const collect = (node: unknown, level: FieldTree, path: string) => {
    if (!isObject(node)) return;
    present.add(path);
    for (const [name, child] of Object.entries(node)) {
      const known = level[name];
      if (known !== undefined && known !== true) collect(child, known, `${path}.${name}`);
    }
  };
  collect(value, tree, basePath);
  const walk = (node: unknown, level: FieldTree, path: string) => {
    if (!isObject(node)) return;
    for (const [name, child] of Object.entries(node)) {
      const known = level[name];
      if (known === undefined) {
        const shown = PRINTABLE_NAME.test(name) ? name : undefined;
        found.push({
          path: shown ? `${path}.${shown}` : `${path} (a field with an unusual name)`,
          suggestion: shown ? suggest(shown, level, path, places, present) : undefined,
        });
      } else if (known !== true) {
        walk(child, known, `${path}.${name}`);
      }
    }
  };
  walk(value, tree, basePath);
  return found;
}

function suggest(
  name: string,
  level: FieldTree,
  path: string,
  places: ReadonlyMap<string, readonly string[]>,
  present: ReadonlySet<string>,
): string | undefined {
  const elsewhere = places.get(name) ?? [];
  const parent = (place: string) => place.slice(0, place.lastIndexOf("."));
  const inUse = elsewhere.find((place) => present.has(parent(place)));
  if (inUse ?? elsewhere[0]) return inUse ?? elsewhere[0];
  let best: { name: string; distance: number } | undefined;
  for (const candidate of Object.keys(level)) {
    const distance =
      candidate.toLowerCase() === name.toLowerCase() ? 0 : editDistance(candidate, name);
    if (distance <= 2 && (!best || distance < best.distance)) best = { name: candidate, distance };
  }
  return best ? `${path}.${best.name}` : undefined;
}

/** Field name → every full path where the tree has it, shallowest first. */
function allPlaces(tree: FieldTree, basePath: string): Map<string, string[]> {
  const places = new Map<string, string[]>();
  const visit = (level: FieldTree, path: string) => {
    for (const [name, child] of Object.entries(level)) {
      const full = `${path}.${name}`;
      places.set(name, [...(places.get(name) ?? []), full]);
      if (child !== true) visit(child, full);
    }
  };
  visit(tree, basePath);
  return places;
}

/** Levenshtein distance; names are short (at most 63 characters). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}
