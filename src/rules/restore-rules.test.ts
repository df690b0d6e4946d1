import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fastJsonPatch from "fast-json-patch";
import {
  clusterWithUnreadableSecrets,
  config,
  example,
  exampleObjects,
  judge,
  withFields,
} from "../../test/support/fixtures.js";
import { StaticClusterView } from "../cluster-view/static-view.js";

const documented = example("restore-accepted.yaml"); // spec.br, operator 1.4-1.7
const v18 = example("restore-config-accepted.yaml"); // spec.config, operator 1.8+

describe("NebulaRestore, both spec shapes", () => {
  it("accepts the documented spec.br restore and defaults its concurrency to 5", () => {
    const verdicts = judge(documented);
    assert.deepEqual(verdicts.violated, []);
    assert.deepEqual(verdicts.mutated, ["restore-concurrency"]);
    assert.deepEqual(verdicts.decision.patch, [
      { op: "add", path: "/spec/br/concurrency", value: 5 },
    ]);
  });

  it("accepts the spec.config restore with access_key/secret_key and keeps its concurrency", () => {
    const verdicts = judge(v18);
    assert.deepEqual(verdicts.violated, []);
    assert.deepEqual(verdicts.decision.patch, []);
  });

  it("defaults concurrency 0 to the configured value", () => {
    const verdicts = judge(withFields(v18, { "spec.config.concurrency": 0 }), {
      config: config({ defaultConcurrency: 3 }),
    });
    assert.deepEqual(verdicts.decision.patch, [
      { op: "replace", path: "/spec/config/concurrency", value: 3 },
    ]);
  });

  it("is idempotent: the patched restore needs no further patch", () => {
    const first = judge(documented).decision;
    const patched = fastJsonPatch.applyPatch(structuredClone(documented), [
      ...first.patch,
    ]).newDocument;
    assert.deepEqual(judge(patched).decision.patch, []);
  });

  it("accepts a spec.config restore from Google Cloud Storage with a credentials Secret", () => {
    const gs = withFields(v18, {
      "spec.config.s3": undefined,
      "spec.config.gs": { location: "us-central1", bucket: "nebula-gcs", secretName: "gcp-secret" },
    });
    assert.deepEqual(judge(gs).violated, []);
  });
});

/** Each row: an edit of a valid restore, the rule it breaks and words its message must hold. */
const denied: {
  name: string;
  base: typeof documented;
  fields: Record<string, unknown>;
  rule: string;
  says: string;
}[] = [
  {
    name: "rejects a restore without secretName",
    base: documented,
    fields: { "spec.br.s3.secretName": undefined },
    rule: "restore-secret-name",
    says: 'spec.br.s3.secretName: is required; name a Secret in namespace "nebula" that holds keys access-key and secret-key',
  },
  {
    name: "rejects a secretName that is not a DNS-1123 subdomain",
    base: documented,
    fields: { "spec.br.s3.secretName": "AWS_S3" },
    rule: "restore-secret-name",
    says: "spec.br.s3.secretName: is not a valid Secret name",
  },
  {
    name: "rejects a restore whose Secret is absent",
    base: documented,
    fields: { "spec.br.s3.secretName": "aws-s3" },
    rule: "restore-secret-name",
    says: 'spec.br.s3.secretName: Secret "aws-s3" not found in namespace "nebula"; create it with keys access-key and secret-key',
  },
  {
    name: "rejects a restore whose Secret lacks secret-key",
    base: documented,
    fields: { "spec.br.s3.secretName": "half-secret" },
    rule: "restore-secret-name",
    says: 'Secret "half-secret" in namespace "nebula" lacks key secret-key',
  },
  {
    name: "rejects a spec.br restore whose Secret holds the 1.8 key names",
    base: documented,
    fields: { "spec.br.s3.secretName": "aws-s3-v18" },
    rule: "restore-secret-name",
    says: "lacks keys access-key and secret-key",
  },
  {
    name: "rejects a spec.config restore whose Secret holds the 1.4-1.7 key names",
    base: v18,
    fields: { "spec.config.s3.secretName": "aws-s3-secret" },
    rule: "restore-secret-name",
    says: "lacks keys access_key and secret_key",
  },
  {
    name: "rejects a gs restore whose Secret lacks credentials",
    base: v18,
    fields: {
      "spec.config.s3": undefined,
      "spec.config.gs": { location: "us", bucket: "nebula-gcs", secretName: "aws-s3-v18" },
    },
    rule: "restore-secret-name",
    says: "lacks key credentials",
  },
  {
    name: "rejects a restore without region",
    base: documented,
    fields: { "spec.br.s3.region": undefined },
    rule: "restore-region",
    says: "spec.br.s3.region: is required",
  },
  {
    name: "rejects a region with spaces",
    base: documented,
    fields: { "spec.br.s3.region": "US West 2" },
    rule: "restore-region",
    says: "spec.br.s3.region: is not a region name",
  },
  {
    name: "rejects a URL given as region",
    base: v18,
    fields: { "spec.config.s3.region": "https://s3.amazonaws.com" },
    rule: "restore-region",
    says: "spec.config.s3.region: is not a region name",
  },
  {
    name: "rejects a region longer than any store's",
    base: v18,
    fields: { "spec.config.s3.region": "r".repeat(65) },
    rule: "restore-region",
    says: "spec.config.s3.region: is not a region name",
  },
  {
    name: "rejects an empty region",
    base: v18,
    fields: { "spec.config.s3.region": "" },
    rule: "restore-region",
    says: "spec.config.s3.region: is required",
  },
  {
    name: "rejects an AWS endpoint of another region",
    base: documented,
    fields: { "spec.br.s3.region": "eu-west-1" },
    rule: "restore-region",
    says: "spec.br.s3.endpoint: names AWS region us-west-2 but region is eu-west-1",
  },
  {
    name: "rejects an endpoint that is not an http(s) URL",
    base: documented,
    fields: { "spec.br.s3.endpoint": "s3.us-west-2.amazonaws.com" },
    rule: "restore-endpoint",
    says: "is not an http(s) URL",
  },
  {
    name: "rejects an invalid bucket name",
    base: documented,
    fields: { "spec.br.s3.bucket": "Nebula_Backups" },
    rule: "restore-bucket",
    says: "spec.br.s3.bucket: is not a bucket name",
  },
  {
    name: "rejects a bucket path that starts with a slash",
    base: v18,
    fields: { "spec.config.s3.bucket": "/nebula-backups" },
    rule: "restore-bucket",
    says: "spec.config.s3.bucket: is not a bucket name",
  },
  {
    name: "rejects a bucket path with an empty segment",
    base: v18,
    fields: { "spec.config.s3.bucket": "nebula-backups//prod" },
    rule: "restore-bucket",
    says: "spec.config.s3.bucket: is not a bucket name",
  },
  {
    name: "rejects a missing bucket",
    base: v18,
    fields: { "spec.config.s3.bucket": undefined },
    rule: "restore-bucket",
    says: "spec.config.s3.bucket: is required",
  },
  {
    name: "rejects a backupName not of the form BACKUP_YYYY_MM_DD_HH_MM_SS",
    base: documented,
    fields: { "spec.br.backupName": "BACKUP_2023_13_12_10_04_16" },
    rule: "restore-backup-name",
    says: "BR names backups BACKUP_YYYY_MM_DD_HH_MM_SS",
  },
  {
    name: "rejects a restore without clusterName",
    base: documented,
    fields: { "spec.br.clusterName": undefined },
    rule: "restore-source-cluster",
    says: "spec.br.clusterName: is required",
  },
  {
    name: "rejects a source cluster that does not exist",
    base: documented,
    fields: { "spec.br.clusterName": "ghost" },
    rule: "restore-source-cluster",
    says: 'NebulaCluster "ghost" not found in namespace "nebula"',
  },
  {
    name: "looks the source cluster up in clusterNamespace",
    base: documented,
    fields: { "spec.br.clusterNamespace": "prod" },
    rule: "restore-source-cluster",
    says: 'NebulaCluster "nebula" not found in namespace "prod"',
  },
  {
    name: "rejects a source cluster without enableBR: true",
    base: documented,
    fields: { "spec.br.clusterName": "nebula-nobr" },
    rule: "restore-source-cluster",
    says: "does not set spec.enableBR: true",
  },
  {
    name: "rejects a negative concurrency",
    base: documented,
    fields: { "spec.br.concurrency": -2 },
    rule: "restore-concurrency",
    says: "spec.br.concurrency: is below 1",
  },
  {
    name: "rejects a misplaced spec.concurrency (nebula-operator#456) and says where it goes",
    base: v18,
    fields: { "spec.concurrency": 8 },
    rule: "restore-known-fields",
    says: "spec.concurrency: is not a field the operator reads, so it would be dropped; did you mean spec.config.concurrency?",
  },
  {
    name: "suggests the spec.br place for a misplaced field of a spec.br restore",
    base: documented,
    fields: { "spec.backupName": "BACKUP_2023_02_12_10_04_16" },
    rule: "restore-known-fields",
    says: "did you mean spec.br.backupName?",
  },
  {
    name: "names the right spelling of a misspelled field",
    base: documented,
    fields: { "spec.br.concurency": 3 },
    rule: "restore-known-fields",
    says: "spec.br.concurency: is not a field the operator reads, so it would be dropped; did you mean spec.br.concurrency?",
  },
  {
    name: "puts a misplaced secretName under the storage in use",
    base: v18,
    fields: { "spec.config.secretName": "aws-s3-v18" },
    rule: "restore-known-fields",
    says: "did you mean spec.config.s3.secretName?",
  },
  {
    name: "rejects an unknown field with no close match, without repeating an odd name",
    base: v18,
    fields: { [`spec.config.${"x".repeat(300)}`]: 1 },
    rule: "restore-known-fields",
    says: "spec.config (a field with an unusual name): is not a field the operator reads, so it would be dropped; remove it",
  },
  {
    name: "rejects a restore with neither spec.br nor spec.config",
    base: documented,
    fields: { "spec.br": undefined },
    rule: "restore-schema",
    says: "spec: set spec.br or spec.config",
  },
  {
    name: "rejects a restore with both spec.br and spec.config",
    base: documented,
    fields: { "spec.config": { clusterName: "nebula" } },
    rule: "restore-schema",
    says: "set only one of spec.br or spec.config",
  },
  {
    name: "rejects a spec.config restore with neither s3 nor gs",
    base: v18,
    fields: { "spec.config.s3": undefined },
    rule: "restore-schema",
    says: "spec.config: set s3 or gs",
  },
  {
    name: "rejects fields of the wrong type with their path",
    base: documented,
    fields: { "spec.br.concurrency": "five" },
    rule: "restore-schema",
    says: "spec.br.concurrency: must be integer",
  },
  {
    name: "rejects a non-object s3",
    base: documented,
    fields: { "spec.br.s3": "s3://bucket" },
    rule: "restore-schema",
    says: "spec.br.s3: must be object",
  },
];

describe("NebulaRestore denials", () => {
  for (const row of denied) {
    it(row.name, () => {
      const verdicts = judge(withFields(row.base, row.fields));
      assert.deepEqual(verdicts.violated, [row.rule], verdicts.messages.join("\n"));
      assert.ok(
        verdicts.messages.some((m) => m.includes(row.says)),
        `expected a message containing ${JSON.stringify(row.says)}, got:\n${verdicts.messages.join("\n")}`,
      );
      assert.equal(verdicts.decision.allowed, false);
    });
  }

  it("reports every broken rule at once, each with its id", () => {
    const verdicts = judge(example("restore-denied.yaml"));
    assert.deepEqual(verdicts.violated, [
      "restore-secret-name",
      "restore-region",
      "restore-backup-name",
    ]);
  });

  it("denies when the Secret cannot be read (fail closed) and says to retry", () => {
    const verdicts = judge(documented, { cluster: clusterWithUnreadableSecrets });
    assert.deepEqual(verdicts.violated, ["restore-secret-name"]);
    assert.match(
      verdicts.messages[0] ?? "",
      /cannot check Secret "aws-s3-secret" .*did not answer in time.*try again/,
    );
  });
});

describe("NebulaRestore field values as the operator reads them", () => {
  const regions = [
    "us-west-2",
    "default",
    "ap-guangzhou",
    "oss-cn-hangzhou",
    "auto",
    "us-central1",
  ];
  for (const region of regions) {
    it(`accepts the region ${region} (a store's own name, not only AWS's)`, () => {
      const restore = withFields(v18, {
        "spec.config.s3.region": region,
        "spec.config.s3.endpoint": "https://storage.example.com",
      });
      assert.deepEqual(judge(restore).violated, []);
    });
  }

  it("still catches an AWS endpoint that names another region", () => {
    const restore = withFields(v18, { "spec.config.s3.region": "default" });
    assert.deepEqual(judge(restore).violated, ["restore-region"]);
  });

  for (const bucket of ["nebula-backups/prod", "nebula-backups/prod/daily/", "nebula.backups"]) {
    it(`accepts the bucket with path ${bucket} (the operator builds s3://<bucket>)`, () => {
      assert.deepEqual(judge(withFields(v18, { "spec.config.s3.bucket": bucket })).violated, []);
    });
  }

  it("accepts a GCS bucket with an underscore", () => {
    const gs = withFields(v18, {
      "spec.config.s3": undefined,
      "spec.config.gs": {
        location: "us-central1",
        bucket: "nebula_gcs/prod",
        secretName: "gcp-secret",
      },
    });
    assert.deepEqual(judge(gs).violated, []);
  });
});

describe("operator-wide credentials (operatorCredentials)", () => {
  const noSecret = withFields(v18, { "spec.config.s3.secretName": undefined });

  it("without the switch, a spec.config restore needs secretName and the message names the switch", () => {
    const verdicts = judge(noSecret);
    assert.deepEqual(verdicts.violated, ["restore-secret-name"]);
    assert.match(verdicts.messages[0] ?? "", /set operatorCredentials: true/);
  });

  it("with the switch, a spec.config restore may leave secretName out", () => {
    const verdicts = judge(noSecret, { config: config({ operatorCredentials: true }) });
    assert.deepEqual(verdicts.violated, []);
  });

  it("with the switch, a Secret that is named is still checked", () => {
    const named = withFields(v18, { "spec.config.s3.secretName": "aws-s3" });
    const verdicts = judge(named, { config: config({ operatorCredentials: true }) });
    assert.deepEqual(verdicts.violated, ["restore-secret-name"]);
  });

  it("with the switch, a spec.br restore (operator 1.4-1.7 always reads the Secret) still needs it", () => {
    const old = withFields(documented, { "spec.br.s3.secretName": undefined });
    const verdicts = judge(old, { config: config({ operatorCredentials: true }) });
    assert.deepEqual(verdicts.violated, ["restore-secret-name"]);
    assert.doesNotMatch(verdicts.messages[0] ?? "", /operatorCredentials/);
  });
});

describe("NebulaRestore updates", () => {
  it("refuses a spec change once created", () => {
    const changed = withFields(documented, { "spec.br.backupName": "BACKUP_2024_01_01_00_00_00" });
    const verdicts = judge(changed, { operation: "UPDATE", oldObject: documented });
    assert.deepEqual(verdicts.violated, ["restore-immutable-spec"]);
    assert.match(verdicts.messages[0] ?? "", /cannot be changed once created/);
  });

  it("lets a status-only update through untouched, even when the Secret is gone by then", () => {
    const withStatus = withFields(documented, {
      "status.phase": "Complete",
      "spec.br.s3.secretName": "aws-s3-secret",
    });
    const gone = new StaticClusterView(
      exampleObjects("cluster-state.yaml").filter((o) => o.kind !== "Secret"),
    );
    const verdicts = judge(withStatus, {
      operation: "UPDATE",
      oldObject: documented,
      cluster: gone,
    });
    assert.deepEqual(verdicts.violated, []);
    assert.deepEqual(verdicts.decision.patch, []);
  });
});
