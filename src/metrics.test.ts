import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Admission } from "./admission/admit.js";
import type { AdmissionRequest } from "./admission/review.js";
import { kindLabel, Metrics, operationLabel, ruleLabel } from "./metrics.js";
import { FAMILIES } from "./rules/registry.js";

const request = (overrides: Partial<AdmissionRequest>): AdmissionRequest => ({
  uid: "u",
  group: "batch",
  version: "v1",
  kind: "Job",
  namespace: "nebula",
  name: "x",
  operation: "CREATE",
  object: undefined,
  oldObject: undefined,
  dryRun: false,
  ...overrides,
});

const allowed: Admission = { response: { uid: "u", allowed: true }, handledBy: "x", results: [] };

describe("metrics labels come from closed sets", () => {
  it("keeps the guarded kinds and calls every other kind `other`", () => {
    assert.equal(kindLabel("batch", "Job"), "batch/Job");
    assert.equal(kindLabel("", "Pod"), "Pod");
    assert.equal(kindLabel("apps", "DaemonSet"), "apps/DaemonSet");
    assert.equal(
      kindLabel("apps.nebula-graph.io", "NebulaCronBackup"),
      "apps.nebula-graph.io/NebulaCronBackup",
    );
    assert.equal(kindLabel("", "ConfigMap"), "other");
    assert.equal(kindLabel("batch", "Pod"), "other");
    assert.equal(kindLabel("", "K".repeat(1024 * 1024)), "other");
    assert.equal(kindLabel(undefined, 42), "other");
  });

  it("keeps the four operations and the registry's rule ids, nothing else", () => {
    assert.equal(operationLabel("UPDATE"), "UPDATE");
    assert.equal(operationLabel("update"), "other");
    const someRule = FAMILIES[0]?.rules[0]?.id as string;
    assert.equal(ruleLabel(someRule), someRule);
    assert.equal(ruleLabel(`${someRule}-x`), "other");
  });

  it("never shows a request value on /metrics, however the metric is called", async () => {
    const metrics = new Metrics();
    const hostile = `HOSTILE-${"x".repeat(1000)}`;
    for (let i = 0; i < 50; i++) {
      metrics.recordAdmission(
        "validate",
        request({ kind: `${hostile}${i}`, group: hostile }),
        allowed,
        0.001,
      );
      metrics.recordAdmission(hostile, request({ operation: hostile as "CREATE" }), allowed, 0.001);
      // Callers that set labels themselves go through the same sets.
      metrics.ruleVerdicts.inc({ stage: hostile, rule: hostile, mode: hostile, verdict: "fail" });
      metrics.ruleVerdicts.labels(hostile, hostile, hostile, "pass").inc();
      metrics.auditResults.inc({ rule: `${hostile}${i}`, result: "fail" });
      metrics.admissionDuration.observe({ stage: hostile }, 0.1);
    }
    const text = await metrics.registry.metrics();
    assert.doesNotMatch(text, /HOSTILE/);
    assert.match(
      text,
      /nebula_br_webhook_admission_requests_total\{stage="validate",kind="other",operation="CREATE",allowed="true"\} 50/,
    );
    assert.match(
      text,
      /nebula_br_webhook_admission_requests_total\{stage="other",kind="batch\/Job",operation="other",allowed="true"\} 50/,
    );
    assert.match(
      text,
      /nebula_br_webhook_rule_verdicts_total\{stage="other",rule="other",mode="other",verdict="fail"\} 50/,
    );
    assert.match(text, /nebula_br_webhook_audit_results\{rule="other",result="fail"\} 50/);
  });
});
