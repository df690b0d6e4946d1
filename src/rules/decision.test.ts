import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  clusterWithUnreadableSecrets,
  config,
  example,
  judge,
  withFields,
} from "../../test/support/fixtures.js";
import { decide } from "./decision.js";
import { mutation, type RuleResult } from "./rule.js";

const broken = withFields(example("restore-accepted.yaml"), { "spec.br.s3.region": undefined });

describe("rule modes", () => {
  it("enforce denies, and records the verdict as an audit annotation keyed by rule id", () => {
    const { decision } = judge(broken);
    assert.equal(decision.allowed, false);
    assert.match(decision.denials[0] ?? "", /^\[restore-region\] spec.br.s3.region: is required/);
    assert.match(decision.auditAnnotations["restore-region"] ?? "", /^deny: spec.br.s3.region/);
  });

  it("warn allows with a warning", () => {
    const { decision } = judge(broken, { config: config({ rules: { "restore-region": "warn" } }) });
    assert.equal(decision.allowed, true);
    assert.match(decision.warnings[0] ?? "", /^\[restore-region\]/);
    assert.match(decision.auditAnnotations["restore-region"] ?? "", /^warn: /);
  });

  it("audit allows silently and only annotates", () => {
    const { decision } = judge(broken, {
      config: config({ rules: { "restore-region": "audit" } }),
    });
    assert.equal(decision.allowed, true);
    assert.deepEqual(decision.warnings, []);
    assert.match(decision.auditAnnotations["restore-region"] ?? "", /^audit-fail: /);
  });

  it("off skips the rule entirely", () => {
    const { decision, results } = judge(broken, {
      config: config({ rules: { "restore-region": "off" } }),
    });
    assert.equal(decision.allowed, true);
    assert.ok(!results.some((r) => r.rule.id === "restore-region"));
  });

  it("a mutation rule in warn mode does not patch but says what it would do", () => {
    const { decision } = judge(example("restore-accepted.yaml"), {
      config: config({ rules: { "restore-concurrency": "warn" } }),
    });
    assert.deepEqual(decision.patch, []);
    assert.match(decision.warnings[0] ?? "", /defaulted to 5 \(not applied: rule in warn mode\)/);
  });

  it("the mutate stage patches without judging; the validate stage judges without patching", () => {
    const restore = withFields(example("restore-accepted.yaml"), {
      "spec.br.s3.region": undefined,
    });
    const mutate = judge(restore, { stage: "mutate" }).decision;
    assert.equal(mutate.allowed, true);
    assert.equal(mutate.patch.length, 1);
    const validate = judge(restore, { stage: "validate" }).decision;
    assert.equal(validate.allowed, false);
    assert.deepEqual(validate.patch, []);
  });

  it("a rule that cannot verify denies by default (fail closed), saying to try again", () => {
    const { decision } = judge(example("restore-accepted.yaml"), {
      cluster: clusterWithUnreadableSecrets,
    });
    assert.equal(decision.allowed, false);
    assert.match(decision.denials[0] ?? "", /cannot check Secret .* try again/);
  });

  it("a rule in failOpen allows what it cannot verify, with a warning, and still enforces the rest", () => {
    const failOpen = config({ failOpen: ["restore-secret-name"] });
    const unreadable = judge(example("restore-accepted.yaml"), {
      cluster: clusterWithUnreadableSecrets,
      config: failOpen,
    });
    assert.equal(unreadable.decision.allowed, true);
    assert.match(
      unreadable.decision.warnings[0] ?? "",
      /cannot check Secret .*\(allowed: the rule fails open\)/,
    );
    const missing = judge(
      withFields(example("restore-accepted.yaml"), { "spec.br.s3.secretName": undefined }),
      {
        cluster: clusterWithUnreadableSecrets,
        config: failOpen,
      },
    );
    assert.equal(
      missing.decision.allowed,
      false,
      "a missing secretName needs no lookup to be denied",
    );
  });
});

describe("errors of our own", () => {
  it("refuse the object without repeating the error's message, which may quote it", () => {
    const failing: RuleResult = {
      rule: { id: "x-rule", description: "", defaultMode: "enforce", evaluate: () => [] },
      mode: "enforce",
      findings: [
        mutation("spec", "completes", () => {
          throw new TypeError("cannot read SECRET-VALUE-123");
        }),
      ],
    };
    const decision = decide({ spec: {} }, [failing], "mutate");
    assert.equal(decision.allowed, false);
    assert.match(
      decision.denials[0] ?? "",
      /internal error while completing the object \(TypeError\)/,
    );
    assert.doesNotMatch(JSON.stringify(decision), /SECRET-VALUE-123/);
  });
});
