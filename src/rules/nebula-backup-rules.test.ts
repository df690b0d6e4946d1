import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  clusterWithUnreadableSecrets,
  config,
  example,
  exampleObjects,
  judge,
  withFields,
} from "../../test/support/fixtures.js";
import type { ClusterSnapshot } from "../cluster-view/cluster-view.js";
import { StaticClusterView } from "../cluster-view/static-view.js";
import { nebulaCronBackupFamily } from "./nebula-backup-rules.js";

const backup = example("nebulabackup.yaml");
const cron = example("nebulacronbackup.yaml");

describe("NebulaBackup (operator 1.8+)", () => {
  it("accepts the example and defaults its concurrency to 5", () => {
    const verdicts = judge(backup);
    assert.deepEqual(verdicts.violated, []);
    assert.deepEqual(verdicts.decision.patch, [
      { op: "add", path: "/spec/config/concurrency", value: 5 },
    ]);
  });

  const denied: [string, Record<string, unknown>, string, RegExp][] = [
    [
      "a backup of a cluster without enableBR",
      { "spec.config.clusterName": "nebula-nobr" },
      "backup-source-cluster",
      /does not set spec.enableBR: true/,
    ],
    [
      "a backup whose Secret holds the 1.4-1.7 key names",
      { "spec.config.s3.secretName": "aws-s3-secret" },
      "backup-secret-name",
      /lacks keys access_key and secret_key/,
    ],
    [
      "a backup without region",
      { "spec.config.s3.region": undefined },
      "backup-region",
      /spec\.config\.s3\.region: is required/,
    ],
    [
      "a backup with an invalid bucket",
      { "spec.config.s3.bucket": "-bad-" },
      "backup-bucket",
      /spec\.config\.s3\.bucket: is not a bucket name/,
    ],
    [
      'a backup without image (its Job would run image ":")',
      { "spec.image": undefined },
      "backup-image",
      /spec\.image: is required; the operator runs <image>:<version>/,
    ],
    [
      "a backup without version",
      { "spec.version": undefined },
      "backup-image",
      /spec\.version: is required/,
    ],
    [
      "a backup whose image carries its own tag (the operator appends :version)",
      { "spec.image": "vesoft/br-ent:v3.7.0" },
      "backup-image",
      /spec\.image: carries a tag or digest/,
    ],
    [
      "a baseBackupName that is not a BR backup name",
      { "spec.config.baseBackupName": "yesterday" },
      "backup-base-backup-name",
      /spec\.config\.baseBackupName: is not a backup name/,
    ],
    [
      "a misplaced spec.concurrency (nebula-operator#456)",
      { "spec.concurrency": 8 },
      "backup-known-fields",
      /spec\.concurrency: .*did you mean spec\.config\.concurrency\?/,
    ],
    [
      "a misplaced spec.clusterName",
      { "spec.clusterName": "nebula" },
      "backup-known-fields",
      /did you mean spec\.config\.clusterName\?/,
    ],
  ];
  for (const [what, fields, rule, message] of denied) {
    it(`rejects ${what}`, () => {
      const verdicts = judge(withFields(backup, fields));
      assert.deepEqual(verdicts.violated, [rule], verdicts.messages.join("\n"));
      assert.match(verdicts.messages.join("\n"), message);
    });
  }
});

describe("containers a NebulaBackup adds to the operator's Job", () => {
  it("admits a logging sidecar and a br-ent version init container", () => {
    const withContainers = withFields(backup, {
      "spec.initContainers": [
        { name: "v", image: "vesoft/br-ent:v3.7.0", command: ["br-ent", "version"] },
      ],
      "spec.sidecarContainers": [
        {
          name: "log",
          image: "fluent/fluent-bit:3",
          args: ["-c", "/fluent-bit/etc/fluent-bit.conf"],
        },
      ],
    });
    assert.deepEqual(judge(withContainers).violated, []);
  });

  it("denies a sidecar that runs a backup of its own", () => {
    const sidecar = withFields(backup, {
      "spec.sidecarContainers": [
        {
          name: "ng-backup",
          image: "vesoft/br-ent:v3.7.0",
          command: [
            "/bin/sh",
            "-ecx",
            "exec br-ent backup full --meta nebula-nobr-metad-0.nebula-nobr-metad-headless.nebula.svc.cluster.local:9559 --storage s3://b",
          ],
        },
      ],
    });
    const verdicts = judge(sidecar);
    assert.deepEqual(verdicts.violated, ["backup-containers"]);
    assert.match(
      verdicts.messages[0] ?? "",
      /spec\.sidecarContainers\[0\]: runs a br-ent backup or restore of its own/,
    );
  });

  it("denies an init container it cannot read, in a cron backup's template too", () => {
    const hidden = withFields(cron, {
      "spec.backupTemplate.initContainers": [
        {
          name: "i",
          image: "vesoft/br-ent:v3.7.0",
          command: ["sh", "-c", "eval br-ent backup full"],
        },
      ],
    });
    assert.deepEqual(judge(hidden).violated, ["backup-containers"]);
  });
});

describe("NebulaBackup fields the operator accepts", () => {
  it("accepts an image from a registry with a port", () => {
    const verdicts = judge(
      withFields(backup, { "spec.image": "reg.example.com:5000/vesoft/br-ent" }),
    );
    assert.deepEqual(verdicts.violated, []);
  });

  it("accepts an incremental backup naming its base as BR does", () => {
    const incr = withFields(backup, { "spec.config.baseBackupName": "BACKUP_2024_02_02_09_34_46" });
    assert.deepEqual(judge(incr).violated, []);
  });

  it("accepts the operator's GS sample shape with its real spec fields", () => {
    const gs = withFields(backup, {
      "spec.config.s3": undefined,
      "spec.config.gs": {
        location: "us-central1",
        bucket: "nebula-test",
        secretName: "gcp-secret",
      },
      "spec.resources": { limits: { cpu: "200m" } },
      "spec.autoRemoveFinished": true,
      "spec.cleanBackupData": true,
    });
    assert.deepEqual(judge(gs).violated, []);
  });

  it("reports a backup with spec.br as both an unknown field and a missing spec.config", () => {
    const verdicts = judge(
      withFields(backup, { "spec.br": { clusterName: "nebula" }, "spec.config": undefined }),
    );
    assert.deepEqual(verdicts.violated, ["backup-known-fields", "backup-schema"]);
    assert.match(verdicts.messages.join("\n"), /spec: set spec\.config/);
  });

  it("lets spec.config objects leave secretName out when the operator has its own credentials", () => {
    const noSecret = withFields(backup, { "spec.config.s3.secretName": undefined });
    assert.deepEqual(judge(noSecret).violated, ["backup-secret-name"]);
    assert.deepEqual(
      judge(noSecret, { config: config({ operatorCredentials: true }) }).violated,
      [],
    );
  });
});

describe("NebulaCronBackup", () => {
  it("accepts the nightly example", () => {
    assert.deepEqual(judge(cron).violated, []);
  });

  it("checks the backup template under spec.backupTemplate, with its path", () => {
    const verdicts = judge(withFields(cron, { "spec.backupTemplate.config.s3.region": "Mars 1" }));
    assert.deepEqual(verdicts.violated, ["backup-region"]);
    assert.match(
      verdicts.messages[0] ?? "",
      /^\[backup-region\] spec\.backupTemplate\.config\.s3\.region: is not a region name/,
    );
  });

  it("defaults the template's concurrency at spec.backupTemplate.config", () => {
    const verdicts = judge(
      withFields(cron, { "spec.backupTemplate.config.concurrency": undefined }),
    );
    assert.deepEqual(verdicts.decision.patch, [
      { op: "add", path: "/spec/backupTemplate/config/concurrency", value: 5 },
    ]);
  });

  it("checks the template's image and fields like a NebulaBackup's", () => {
    const verdicts = judge(
      withFields(cron, {
        "spec.backupTemplate.version": undefined,
        "spec.backupTemplate.concurrency": 3,
      }),
    );
    assert.deepEqual(verdicts.violated, ["backup-known-fields", "backup-image"]);
    assert.match(
      verdicts.messages.join("\n"),
      /did you mean spec\.backupTemplate\.config\.concurrency\?/,
    );
  });

  const reservations: [string, boolean][] = [
    ["72h", true],
    ["30m", true],
    ["1h30m", true],
    ["7d", false],
    ["one week", false],
    ["0s", false],
    ["-1h", false],
  ];
  for (const [value, ok] of reservations) {
    it(`${ok ? "accepts" : "rejects"} maxReservedTime ${value}`, () => {
      const verdicts = judge(withFields(cron, { "spec.maxReservedTime": value }));
      assert.deepEqual(verdicts.violated, ok ? [] : ["backup-max-reserved-time"]);
      if (!ok) assert.doesNotMatch(verdicts.messages.join(), new RegExp(value));
    });
  }

  it("rejects a schedule the operator's cron parser refuses, without repeating it", () => {
    const verdicts = judge(withFields(cron, { "spec.schedule": "0 3 L * *" }));
    assert.deepEqual(verdicts.violated, ["backup-schedule"]);
    assert.match(verdicts.messages[0] ?? "", /day of month field: .*no L, W, # or H/);
  });
});

describe("NebulaCronBackup updates judge only what changed", () => {
  /** The cron backup's cluster has lost BR and its Secret is gone since it was created. */
  const lostEverything = new StaticClusterView(
    exampleObjects("cluster-state.yaml")
      .filter((o) => o.kind !== "Secret")
      .map((o) => (o.kind === "NebulaCluster" ? withFields(o, { "spec.enableBR": false }) : o)),
  );
  const update = (changed: typeof cron, cluster: ClusterSnapshot = lostEverything) =>
    judge(changed, { operation: "UPDATE", oldObject: cron, cluster });

  it("lets kubectl patch pause through though the cluster lost BR and the Secret is gone", () => {
    assert.deepEqual(update(withFields(cron, { "spec.pause": true })).violated, []);
  });

  it("lets a label or annotation change through, even when Secrets cannot be read", () => {
    const labelled = withFields(cron, { "metadata.labels": { team: "graph" } });
    assert.deepEqual(update(labelled, clusterWithUnreadableSecrets).violated, []);
  });

  it("lets an unchanged spec through", () => {
    assert.deepEqual(update(structuredClone(cron)).violated, []);
  });

  it("checks a changed schedule, and only the schedule", () => {
    assert.deepEqual(update(withFields(cron, { "spec.schedule": "every night" })).violated, [
      "backup-schedule",
    ]);
    assert.deepEqual(update(withFields(cron, { "spec.schedule": "@every 6h" })).violated, []);
  });

  it("checks a changed backup template against the cluster and the Secret", () => {
    const moved = withFields(cron, { "spec.backupTemplate.config.s3.bucket": "other-bucket" });
    assert.deepEqual(update(moved).violated, ["backup-secret-name", "backup-source-cluster"]);
  });

  it("fetches the Secret on UPDATE exactly when the template changed", () => {
    const needed = (changed: typeof cron) =>
      nebulaCronBackupFamily.secretsNeeded(changed, "nebula", "UPDATE", cron);
    assert.deepEqual(needed(withFields(cron, { "spec.pause": true })), []);
    assert.deepEqual(
      needed(withFields(cron, { "spec.backupTemplate.config.s3.bucket": "other-bucket" })),
      [{ namespace: "nebula", name: "aws-s3-v18" }],
    );
  });
});
