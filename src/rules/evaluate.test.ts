import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BYPASSES } from "../../test/support/bypasses.js";
import { config, exampleCluster, exampleObjects, judge } from "../../test/support/fixtures.js";
import type { KubeObject } from "../kube/objects.js";
import { evaluateFamily } from "./evaluate.js";
import { FAMILIES, familyFor } from "./registry.js";
import { mutation, type Rule, type RuleContext, type RuleFamily, violation } from "./rule.js";

const EXAMPLES = [
  "backup-job.yaml",
  "backup-job-denied.yaml",
  "backup-job-split-command.yaml",
  "nebulabackup.yaml",
  "nebulacronbackup.yaml",
  "restore-accepted.yaml",
  "restore-config-accepted.yaml",
  "restore-denied.yaml",
];

/** Every object of the examples and of the bypass table: Jobs, CronJobs, Pods, restores… */
const OBJECTS: KubeObject[] = [
  ...EXAMPLES.flatMap((name) => exampleObjects(name)),
  ...BYPASSES.map((row) => row.object),
].filter((object) => {
  const group = (object.apiVersion ?? "").split("/").slice(0, -1).join("/");
  return familyFor(object, group, object.kind ?? "") !== undefined;
});

/** A CREATE of an empty object: for families made up in a test. */
const EMPTY_CREATE: RuleContext = {
  object: {},
  oldObject: undefined,
  operation: "CREATE",
  namespace: "default",
  cluster: exampleCluster,
  config: config(),
};

describe("which rules run at which stage", () => {
  it("the examples and bypass rows cover objects the webhook completes", () => {
    assert.ok(OBJECTS.length > 40);
    assert.ok(OBJECTS.some((o) => judge(o).mutated.length > 0));
  });

  it("/mutate runs only the rules that complete objects, and patches exactly what a run of all rules would", () => {
    for (const object of OBJECTS) {
      const all = judge(object);
      const mutate = judge(object, { stage: "mutate" });
      for (const { rule } of mutate.results) assert.ok(rule.completes, rule.id);
      assert.deepEqual(mutate.decision.patch, judge(object, { stage: "both" }).decision.patch);
      assert.deepEqual(mutate.mutated, all.mutated, `${object.kind} ${object.metadata?.name}`);
    }
  });

  it("/validate runs only the rules that judge, and denies and warns exactly as a run of all rules would", () => {
    for (const object of OBJECTS) {
      const validate = judge(object, { stage: "validate" });
      for (const { rule } of validate.results) assert.notEqual(rule.judges, false, rule.id);
      const all = judge(object, { stage: "both" }).decision;
      assert.deepEqual(validate.decision.denials, all.denials);
      assert.deepEqual(
        validate.decision.warnings,
        all.warnings.filter((w) => !w.endsWith("(not applied: rule in warn mode)")),
      );
    }
    // A rule that does both (restore-concurrency: a negative value denied, none defaulted) runs at both.
    const restore = exampleObjects("restore-accepted.yaml")[0] as KubeObject;
    assert.ok(judge(restore, { stage: "validate" }).results.some((r) => r.rule.completes));
    const job = exampleObjects("backup-job.yaml")[0] as KubeObject;
    assert.ok(!judge(job, { stage: "validate" }).results.some((r) => r.rule.completes));
  });

  it("every family has its rules marked: only completing rules return mutations, only judging ones violations", () => {
    const returns = (rule: Rule, type: string) =>
      OBJECTS.some((o) =>
        judge(o).results.some((r) => r.rule === rule && r.findings.some((f) => f.type === type)),
      );
    for (const family of FAMILIES)
      for (const rule of family.rules) {
        if (!rule.completes) assert.ok(!returns(rule, "mutation"), rule.id);
        if (rule.judges === false) assert.ok(!returns(rule, "violation"), rule.id);
      }
  });

  it("a rule that returns a finding of a kind it does not declare is a bug: reported, never applied", () => {
    const sneaky: RuleFamily = {
      name: "Test",
      matches: () => true,
      operations: ["CREATE"],
      secretsNeeded: () => [],
      rules: [
        {
          id: "sneaky",
          description: "returns a mutation without saying it completes objects",
          defaultMode: "enforce",
          evaluate: () => [mutation("spec", "changed", () => {})],
        },
      ],
    };
    const [result] = evaluateFamily(sneaky, EMPTY_CREATE);
    assert.equal(result?.findings.length, 1);
    assert.equal(result?.findings[0]?.type, "violation");
    assert.match(result?.findings[0]?.message ?? "", /internal error while checking \(TypeError\)/);
    const quiet: RuleFamily = {
      ...sneaky,
      rules: [
        {
          id: "quiet",
          description: "only completes, yet judges",
          defaultMode: "enforce",
          completes: true,
          judges: false,
          evaluate: () => [violation("spec", "bad")],
        },
      ],
    };
    const [audited] = evaluateFamily(quiet, EMPTY_CREATE);
    assert.match(
      audited?.findings[0]?.message ?? "",
      /internal error while checking \(TypeError\)/,
    );
    assert.deepEqual(evaluateFamily(sneaky, EMPTY_CREATE, "mutate"), []);
  });
});
