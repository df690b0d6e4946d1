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
    says: '"AWS_S3" is not a valid Secret name',
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
    name: "rejects a region that is not a region name",
    base: documented,
    fields: { "spec.br.s3.region": "US-WEST-2" },
    rule: "restore-region",
    says: '"US-WEST-2" is not an S3 region name',
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
    says: "spec.br.s3.endpoint: names region us-west-2 but region is eu-west-1",
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
    says: '"Nebula_Backups" is not a valid bucket name',
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
    says: "-2 is below 1",
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
