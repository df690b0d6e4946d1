import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { example, judge, withFields } from "../../test/support/fixtures.js";
import { scheduleProblem } from "./nebula-backup-rules.js";

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
      /not a valid bucket name/,
    ],
    [
      "a backup with spec.br",
      { "spec.br": { clusterName: "nebula" }, "spec.config": undefined },
      "backup-schema",
      /spec: set spec\.config/,
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

describe("NebulaCronBackup", () => {
  it("accepts the nightly example", () => {
    assert.deepEqual(judge(cron).violated, []);
  });

  it("checks the backup template under spec.backupTemplate, with its path", () => {
    const verdicts = judge(withFields(cron, { "spec.backupTemplate.config.s3.region": "Mars" }));
    assert.deepEqual(verdicts.violated, ["backup-region"]);
    assert.match(
      verdicts.messages[0] ?? "",
      /^\[backup-region\] spec\.backupTemplate\.config\.s3\.region: "Mars"/,
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

  it("checks changes on UPDATE too", () => {
    const changed = withFields(cron, { "spec.schedule": "every night" });
    assert.deepEqual(judge(changed, { operation: "UPDATE", oldObject: cron }).violated, [
      "backup-schedule",
    ]);
  });

  const schedules: [string, string | undefined][] = [
    ["0 3 * * *", undefined],
    ["*/15 1-5 * * MON-FRI", undefined],
    ["@daily", undefined],
    ["TZ=Asia/Shanghai 0 2 * * *", undefined],
    ["61 * * * *", "not a valid cron schedule"],
    ["0 0 3 * * *", "has 6 fields"],
    ["", "is required"],
  ];
  for (const [schedule, problem] of schedules) {
    it(`${problem ? "rejects" : "accepts"} the schedule ${JSON.stringify(schedule)}`, () => {
      const found = scheduleProblem(schedule);
      if (problem) assert.match(found ?? "", new RegExp(problem));
      else assert.equal(found, undefined);
    });
  }
});
