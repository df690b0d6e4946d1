import { isDeepStrictEqual } from "node:util";
import { parseGoDuration } from "../kube/go-duration.js";
import {
  awsEndpointRegion,
  isBackupName,
  isBucketWithPath,
  isDns1123Label,
  isDns1123Subdomain,
  isHttpUrl,
  isRegionName,
} from "../kube/names.js";
import { field, type KubeObject, stringField } from "../kube/objects.js";
import {
  type AdmissionOperation,
  type Finding,
  mutation,
  type Rule,
  type RuleContext,
  type SecretRef,
  unverified,
  violation,
} from "./rule.js";
import { type FieldTree, unknownFields } from "./spec-fields.js";
import { type ReadSpec, readSpec, type SpecLayout } from "./storage-spec.js";

/** Rules shared by every object whose spec names a source cluster and a storage location. */
export interface SpecRuleOptions {
  /** Rule id prefix: `restore` or `backup`. */
  readonly prefix: string;
  readonly layout: SpecLayout;
  /** Restores name the backup to restore (`backupName`). */
  readonly checksBackupName: boolean;
  /** Backups may name the base of an incremental backup (`baseBackupName`). */
  readonly checksBaseBackupName: boolean;
  /** Backups run `<image>:<version>`, which the CRD does not default. */
  readonly checksImage: boolean;
  /** Restores cannot change once started; backups are not held to that here. */
  readonly immutableSpec: boolean;
  /**
   * When the spec is checked: restores on CREATE (later changes are refused), cron backups
   * also on UPDATE, and then only when the settings themselves changed.
   */
  readonly checkedOn: readonly AdmissionOperation[];
}

type SpecCheck = (spec: ReadSpec, ctx: RuleContext) => Finding[];

/** The part of the object the spec rules read: on UPDATE they run only when it changed. */
const settingsOf =
  (layout: SpecLayout) =>
  (object: KubeObject): unknown =>
    field(object, ...layout.path);

/** Which storage the spec uses and its field path. */
function storageOf(spec: ReadSpec): { kind: "s3" | "gs"; path: string } {
  const kind = spec.spec.s3 !== undefined ? "s3" : "gs";
  return { kind, path: `${spec.basePath}.${kind}` };
}

const keyList = (keys: readonly string[]): string => keys.join(" and ");

const checkSecret: SpecCheck = (spec, ctx) => {
  const storage = storageOf(spec);
  const keys = spec.requiredKeys[storage.kind];
  const path = `${storage.path}.secretName`;
  const name = spec.spec[storage.kind]?.secretName;
  if (!name) {
    // 1.8+ reads the Secret only when its own environment has no credentials.
    if (spec.shape === "config" && ctx.config.operatorCredentials) return [];
    const alternative =
      spec.shape === "config"
        ? " (or, if the operator has storage credentials in its own environment, set operatorCredentials: true in the webhook's configuration)"
        : "";
    return [
      violation(
        path,
        `is required; name a Secret in namespace "${ctx.namespace}" that holds keys ${keyList(keys)}${alternative}`,
      ),
    ];
  }
  if (!isDns1123Subdomain(name)) {
    return [
      violation(
        path,
        "is not a valid Secret name (lowercase letters, digits, '-' and '.', at most 253 characters)",
      ),
    ];
  }
  const secret = ctx.cluster.secret(ctx.namespace, name);
  switch (secret.state) {
    case "absent":
      return [
        violation(
          path,
          `Secret "${name}" not found in namespace "${ctx.namespace}"; create it with keys ${keyList(keys)}`,
        ),
      ];
    case "unavailable":
      return [
        unverified(
          path,
          `cannot check Secret "${name}" in namespace "${ctx.namespace}" (${secret.reason}); try again`,
        ),
      ];
    case "found": {
      const missing = keys.filter((key) => !secret.value.keys.includes(key));
      if (missing.length === 0) return [];
      return [
        violation(
          path,
          `Secret "${name}" in namespace "${ctx.namespace}" lacks key${missing.length > 1 ? "s" : ""} ${keyList(missing)}; it must hold ${keyList(keys)}`,
        ),
      ];
    }
  }
};

const checkRegion: SpecCheck = (spec) => {
  const s3 = spec.spec.s3;
  if (!s3) return [];
  const path = `${spec.basePath}.s3.region`;
  if (!s3.region) {
    return [
      violation(
        path,
        "is required; set the region of the bucket as your store names it (us-west-2 on AWS, default on MinIO, auto on Cloudflare R2)",
      ),
    ];
  }
  if (!isRegionName(s3.region)) {
    return [
      violation(
        path,
        "is not a region name: one word of letters, digits, '.', '_' and '-' (e.g. us-west-2, or default on MinIO)",
      ),
    ];
  }
  const endpointRegion = s3.endpoint ? awsEndpointRegion(s3.endpoint) : undefined;
  if (endpointRegion && endpointRegion !== s3.region) {
    return [
      violation(
        `${spec.basePath}.s3.endpoint`,
        // Both are checked names by now; the endpoint itself is not repeated (it may carry user info).
        `names AWS region ${endpointRegion} but region is ${s3.region}; make them agree`,
      ),
    ];
  }
  return [];
};

const checkEndpoint: SpecCheck = (spec) => {
  const endpoint = spec.spec.s3?.endpoint;
  if (endpoint === undefined || isHttpUrl(endpoint)) return [];
  return [
    violation(
      `${spec.basePath}.s3.endpoint`,
      "is not an http(s) URL; use e.g. https://s3.us-west-2.amazonaws.com",
    ),
  ];
};

const checkBucket: SpecCheck = (spec) => {
  const storage = storageOf(spec);
  const bucket = spec.spec[storage.kind]?.bucket;
  const path = `${storage.path}.bucket`;
  if (!bucket) return [violation(path, "is required; name the bucket that holds the backup")];
  if (isBucketWithPath(bucket, storage.kind)) return [];
  return [
    violation(
      path,
      `is not a bucket name, optionally followed by a path (3-63 lowercase letters, digits, "." and "-"${storage.kind === "gs" ? ', "_"' : ""}, starting and ending with a letter or digit; then /path/to/backups)`,
    ),
  ];
};

const checkBackupName: SpecCheck = (spec) => {
  const name = spec.spec.backupName;
  const path = `${spec.basePath}.backupName`;
  if (!name)
    return [
      violation(path, "is required; name the backup to restore, e.g. BACKUP_2023_02_12_10_04_16"),
    ];
  if (isBackupName(name)) return [];
  return [
    violation(
      path,
      "is not a backup name; BR names backups BACKUP_YYYY_MM_DD_HH_MM_SS (kubectl get nb shows them)",
    ),
  ];
};

const checkBaseBackupName: SpecCheck = (spec) => {
  const name = spec.spec.baseBackupName;
  if (name === undefined || name === "" || isBackupName(name)) return [];
  return [
    violation(
      `${spec.basePath}.baseBackupName`,
      "is not a backup name; an incremental backup names its base as BR named it, BACKUP_YYYY_MM_DD_HH_MM_SS (the BACKUP column of kubectl get nb)",
    ),
  ];
};

const checkSourceCluster: SpecCheck = (spec, ctx) => {
  const name = spec.spec.clusterName;
  const path = `${spec.basePath}.clusterName`;
  if (!name)
    return [violation(path, "is required; name the NebulaCluster the backup was taken from")];
  if (!isDns1123Subdomain(name)) return [violation(path, "is not a valid NebulaCluster name")];
  const namespaceField = spec.spec.clusterNamespace;
  if (namespaceField && !isDns1123Label(namespaceField)) {
    return [violation(`${spec.basePath}.clusterNamespace`, "is not a valid namespace name")];
  }
  const namespace = namespaceField || ctx.namespace;
  const cluster = ctx.cluster.nebulaCluster(namespace, name);
  switch (cluster.state) {
    case "absent":
      return [violation(path, `NebulaCluster "${name}" not found in namespace "${namespace}"`)];
    case "unavailable":
      return [
        unverified(
          path,
          `cannot check NebulaCluster "${name}" in namespace "${namespace}" (${cluster.reason}); try again`,
        ),
      ];
    case "found":
      return cluster.value.enableBR
        ? []
        : [
            violation(
              path,
              `NebulaCluster "${name}" in namespace "${namespace}" does not set spec.enableBR: true; enable BR on it first`,
            ),
          ];
  }
};

const checkConcurrency: SpecCheck = (spec, ctx) => {
  const concurrency = spec.spec.concurrency;
  const path = `${spec.basePath}.concurrency`;
  if (concurrency !== undefined && concurrency < 0) {
    return [
      violation(
        path,
        `is below 1; set a positive number of parallel transfers (default ${ctx.config.defaultConcurrency})`,
      ),
    ];
  }
  if (ctx.operation !== "CREATE" || (concurrency !== undefined && concurrency !== 0)) return [];
  const value = ctx.config.defaultConcurrency;
  return [
    mutation(path, `defaulted to ${value}`, (draft) => {
      const target = field(draft, ...spec.settingsPath) as { concurrency?: number };
      target.concurrency = value;
    }),
  ];
};

/** `<image>:<version>` is what the operator runs; the CRD defaults neither. */
function checkImage(layout: SpecLayout) {
  return (ctx: RuleContext): Finding[] => {
    const prefix = layout.path.join(".");
    const image = stringField(ctx.object, ...layout.path, "image");
    const version = stringField(ctx.object, ...layout.path, "version");
    const findings: Finding[] = [];
    if (!image) {
      findings.push(
        violation(
          `${prefix}.image`,
          "is required; the operator runs <image>:<version>, e.g. image: vesoft/br-ent and version: v3.7.0",
        ),
      );
    } else if (/[:@]/.test(image.split("/").pop() ?? "")) {
      findings.push(
        violation(
          `${prefix}.image`,
          "carries a tag or digest, but the operator appends :<version> itself; move the tag to version",
        ),
      );
    }
    if (!version) {
      findings.push(
        violation(
          `${prefix}.version`,
          "is required; the operator runs <image>:<version>, e.g. version: v3.7.0",
        ),
      );
    } else if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(version)) {
      findings.push(violation(`${prefix}.version`, "is not an image tag"));
    }
    return findings;
  };
}

const checkImmutableSpec = (ctx: RuleContext): Finding[] => {
  if (ctx.operation !== "UPDATE" || !ctx.oldObject) return [];
  if (isDeepStrictEqual(ctx.object.spec, ctx.oldObject.spec)) return [];
  return [
    violation(
      "spec",
      "cannot be changed once created (the operator does not support it); delete the object and create a new one",
    ),
  ];
};

/** Unknown and misplaced fields, named with where they belong. */
export function knownFieldsRule(prefix: string, tree: FieldTree): Rule {
  return {
    id: `${prefix}-known-fields`,
    description:
      "Every spec field is one the operator reads; a misplaced or misspelled one is named with its right place",
    defaultMode: "enforce",
    reads: (object) => object.spec,
    evaluate: (ctx) =>
      unknownFields(ctx.object.spec, tree, "spec").map((unknown) =>
        violation(
          unknown.path,
          unknown.suggestion
            ? `is not a field the operator reads, so it would be dropped; did you mean ${unknown.suggestion}?`
            : "is not a field the operator reads, so it would be dropped; remove it",
        ),
      ),
  };
}

/** cron backups: how long the operator keeps the backups it made (a Go duration). */
export const maxReservedTimeRule: Rule = {
  id: "backup-max-reserved-time",
  description: "maxReservedTime is a positive Go duration (72h, not 3d)",
  defaultMode: "enforce",
  reads: (object) => field(object, "spec", "maxReservedTime"),
  evaluate: (ctx) => {
    const value = field(ctx.object, "spec", "maxReservedTime");
    if (value === undefined || value === null) return [];
    const duration = typeof value === "string" ? parseGoDuration(value) : undefined;
    if (duration !== undefined && duration > 0) return [];
    return [
      violation(
        "spec.maxReservedTime",
        duration === undefined
          ? "is not a Go duration, so the operator would never delete expired backups; write hours and minutes, e.g. 168h for 7 days (there is no d unit)"
          : "must be positive; e.g. 168h keeps a week of backups",
      ),
    ];
  },
};

/** The rules for any spec with a source cluster and a storage location. */
export function specRules(options: SpecRuleOptions): Rule[] {
  const reads = settingsOf(options.layout);
  const checked =
    (check: SpecCheck): SpecCheck =>
    (spec, ctx) =>
      options.checkedOn.includes(ctx.operation) ? check(spec, ctx) : [];
  /** A rule over a spec that passed its schema; an invalid spec is reported by the schema rule alone. */
  const rule = (id: string, description: string, check: SpecCheck, completes?: boolean): Rule => ({
    id: `${options.prefix}-${id}`,
    description,
    defaultMode: "enforce",
    reads,
    ...(completes ? { completes } : {}),
    evaluate: (ctx) => {
      const reading = readSpec(ctx.object, options.layout);
      return reading.ok ? checked(check)(reading.value, ctx) : [];
    },
  });
  const rules: Rule[] = [
    {
      id: `${options.prefix}-schema`,
      description: `The spec has one of ${Object.keys(options.layout.shapes).join(", ")} with fields of the right types`,
      defaultMode: "enforce",
      reads,
      evaluate: (ctx) => {
        if (!options.checkedOn.includes(ctx.operation)) return [];
        const reading = readSpec(ctx.object, options.layout);
        return reading.ok ? [] : reading.violations.map((v) => violation(v.path, v.message));
      },
    },
    rule(
      "secret-name",
      "The storage Secret is named validly, exists and holds its credential keys (optional with operatorCredentials on spec.config)",
      checkSecret,
    ),
    rule(
      "region",
      "The S3 region is set, is one word, and agrees with an AWS endpoint",
      checkRegion,
    ),
    rule("endpoint", "The S3 endpoint is an http(s) URL", checkEndpoint),
    rule("bucket", "The bucket is a valid bucket name, optionally followed by a path", checkBucket),
  ];
  if (options.checksBackupName)
    rules.push(
      rule("backup-name", "backupName has the form BACKUP_YYYY_MM_DD_HH_MM_SS", checkBackupName),
    );
  if (options.checksBaseBackupName)
    rules.push(
      rule(
        "base-backup-name",
        "baseBackupName, when set, has the form BACKUP_YYYY_MM_DD_HH_MM_SS",
        checkBaseBackupName,
      ),
    );
  if (options.checksImage) {
    const check = checkImage(options.layout);
    rules.push({
      id: `${options.prefix}-image`,
      description: "image and version are set: the operator runs <image>:<version>",
      defaultMode: "enforce",
      reads,
      evaluate: (ctx) => (options.checkedOn.includes(ctx.operation) ? check(ctx) : []),
    });
  }
  rules.push(
    rule(
      "source-cluster",
      "The source NebulaCluster exists and has spec.enableBR: true",
      checkSourceCluster,
    ),
    rule(
      "concurrency",
      "Concurrency is at least 1; unset or 0 becomes the default",
      checkConcurrency,
      true,
    ),
  );
  if (options.immutableSpec)
    rules.push({
      id: `${options.prefix}-immutable-spec`,
      description: "The spec does not change after creation (status updates pass)",
      defaultMode: "enforce",
      evaluate: checkImmutableSpec,
    });
  return rules;
}

/**
 * Secrets a spec names, so the cluster view can fetch them before the rules run: on the
 * operations the spec is checked on, and on UPDATE only when the settings changed.
 */
export function specSecrets(layout: SpecLayout, checkedOn: readonly AdmissionOperation[]) {
  const reads = settingsOf(layout);
  return (
    object: KubeObject,
    namespace: string,
    operation: AdmissionOperation,
    oldObject: KubeObject | undefined,
  ): SecretRef[] => {
    if (!checkedOn.includes(operation)) return [];
    if (operation === "UPDATE" && oldObject && isDeepStrictEqual(reads(object), reads(oldObject)))
      return [];
    const reading = readSpec(object, layout);
    if (!reading.ok) return [];
    const spec = reading.value.spec;
    const name = spec.s3?.secretName ?? spec.gs?.secretName;
    return name && isDns1123Subdomain(name) ? [{ namespace, name }] : [];
  };
}
