import { isDeepStrictEqual } from "node:util";
import {
  awsEndpointRegion,
  isBackupName,
  isBucketName,
  isDns1123Subdomain,
  isHttpUrl,
  isRegionName,
} from "../kube/names.js";
import { field, type KubeObject } from "../kube/objects.js";
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
import { type ReadSpec, readSpec, type SpecLayout } from "./storage-spec.js";

/** Rules shared by every object whose spec names a source cluster and a storage location. */
export interface SpecRuleOptions {
  /** Rule id prefix: `restore` or `backup`. */
  readonly prefix: string;
  readonly layout: SpecLayout;
  /** Restores name the backup to restore (`backupName`); backups do not. */
  readonly checksBackupName: boolean;
  /** Restores cannot change once started; backups are not held to that here. */
  readonly immutableSpec: boolean;
  /** When the spec is checked: restores on CREATE (later changes are refused), cron backups also on UPDATE. */
  readonly checkedOn: readonly AdmissionOperation[];
}

type SpecCheck = (spec: ReadSpec, ctx: RuleContext) => Finding[];

/** A rule over a spec that passed its schema; an invalid spec is reported by the schema rule alone. */
function specRule(
  options: SpecRuleOptions,
  id: string,
  description: string,
  check: SpecCheck,
): Rule {
  return {
    id: `${options.prefix}-${id}`,
    description,
    defaultMode: "enforce",
    evaluate: (ctx) => {
      const reading = readSpec(ctx.object, options.layout);
      return reading.ok ? check(reading.value, ctx) : [];
    },
  };
}

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
    return [
      violation(
        path,
        `is required; name a Secret in namespace "${ctx.namespace}" that holds keys ${keyList(keys)}`,
      ),
    ];
  }
  if (!isDns1123Subdomain(name)) {
    return [
      violation(
        path,
        `"${name}" is not a valid Secret name (lowercase letters, digits, "-" and ".", at most 253 characters)`,
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
    return [violation(path, "is required; set the S3 region of the bucket, e.g. us-west-2")];
  }
  if (!isRegionName(s3.region)) {
    return [
      violation(
        path,
        `"${s3.region}" is not an S3 region name (lowercase letters, digits and dashes, e.g. us-west-2)`,
      ),
    ];
  }
  const endpointRegion = s3.endpoint ? awsEndpointRegion(s3.endpoint) : undefined;
  if (endpointRegion && endpointRegion !== s3.region) {
    return [
      violation(
        `${spec.basePath}.s3.endpoint`,
        // The endpoint is not repeated: a URL may carry user info.
        `names region ${endpointRegion} but region is ${s3.region}; make them agree`,
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
  if (isBucketName(bucket)) return [];
  return [
    violation(
      path,
      `"${bucket}" is not a valid bucket name (3-63 lowercase letters, digits, "." and "-", starting and ending with a letter or digit)`,
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
    violation(path, `"${name}" is not a backup name; BR names backups BACKUP_YYYY_MM_DD_HH_MM_SS`),
  ];
};

const checkSourceCluster: SpecCheck = (spec, ctx) => {
  const name = spec.spec.clusterName;
  const path = `${spec.basePath}.clusterName`;
  if (!name)
    return [violation(path, "is required; name the NebulaCluster the backup was taken from")];
  const namespace = spec.spec.clusterNamespace || ctx.namespace;
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
        `${concurrency} is below 1; set a positive number of parallel transfers (default ${ctx.config.defaultConcurrency})`,
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

/** The rules for any spec with a source cluster and a storage location. */
export function specRules(options: SpecRuleOptions): Rule[] {
  const checked =
    (check: SpecCheck): SpecCheck =>
    (spec, ctx) =>
      options.checkedOn.includes(ctx.operation) ? check(spec, ctx) : [];
  const rule = (id: string, description: string, check: SpecCheck) =>
    specRule(options, id, description, checked(check));
  return [
    {
      id: `${options.prefix}-schema`,
      description: `The spec has one of ${Object.keys(options.layout.shapes).join(", ")} with fields of the right types`,
      defaultMode: "enforce",
      evaluate: (ctx) => {
        if (!options.checkedOn.includes(ctx.operation)) return [];
        const reading = readSpec(ctx.object, options.layout);
        return reading.ok ? [] : reading.violations.map((v) => violation(v.path, v.message));
      },
    },
    rule(
      "secret-name",
      "The storage Secret is named validly, exists and holds its credential keys",
      checkSecret,
    ),
    rule("region", "The S3 region is a region name and agrees with the endpoint", checkRegion),
    rule("endpoint", "The S3 endpoint is an http(s) URL", checkEndpoint),
    rule("bucket", "The bucket is a valid bucket name", checkBucket),
    ...(options.checksBackupName
      ? [rule("backup-name", "backupName has the form BACKUP_YYYY_MM_DD_HH_MM_SS", checkBackupName)]
      : []),
    rule(
      "source-cluster",
      "The source NebulaCluster exists and has spec.enableBR: true",
      checkSourceCluster,
    ),
    rule(
      "concurrency",
      "Concurrency is at least 1; unset or 0 becomes the default",
      checkConcurrency,
    ),
    ...(options.immutableSpec
      ? [
          {
            id: `${options.prefix}-immutable-spec`,
            description: "The spec does not change after creation (status updates pass)",
            defaultMode: "enforce" as const,
            evaluate: checkImmutableSpec,
          },
        ]
      : []),
  ];
}

/** Secrets a spec names, so the cluster view can fetch them before the rules run. */
export function specSecrets(layout: SpecLayout) {
  return (object: KubeObject, namespace: string): SecretRef[] => {
    const reading = readSpec(object, layout);
    if (!reading.ok) return [];
    const spec = reading.value.spec;
    const name = spec.s3?.secretName ?? spec.gs?.secretName;
    return name && isDns1123Subdomain(name) ? [{ namespace, name }] : [];
  };
}
