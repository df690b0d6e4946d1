import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KubeObject } from "../kube/objects.js";
import type { Rule, RuleFamily, RuleMode, RuleResult } from "../rules/rule.js";
import { violation } from "../rules/rule.js";
import type { AuditEntry, GuardedObject } from "./audit.js";
import { AuditResults } from "./audit-results.js";

const rule = (id: string): Rule => ({
  id,
  description: `${id} holds`,
  defaultMode: "enforce",
  evaluate: () => [],
});

const passes = (id: string, mode: RuleMode = "enforce"): RuleResult => ({
  rule: rule(id),
  mode,
  findings: [],
});

const breaks = (id: string, message: string, mode: RuleMode = "enforce"): RuleResult => ({
  rule: rule(id),
  mode,
  findings: [violation("spec.x", message)],
});

const item = (namespace: string, kind: string, name: string): GuardedObject => ({
  namespace,
  family: {} as RuleFamily,
  object: {
    apiVersion: kind === "Job" ? "batch/v1" : "apps.nebula-graph.io/v1alpha1",
    kind,
    metadata: { name, namespace, uid: `uid-${name}` },
  } as KubeObject,
});

describe("the audit's compact results", () => {
  it("gives back every entry as it was judged, in the order objects were listed", () => {
    const results = new AuditResults();
    results.add(item("b", "Job", "nightly"), [
      passes("backup-job-storage"),
      breaks("backup-job-plaintext-credentials", "keys in plain text", "warn"),
    ]);
    results.add(item("a", "NebulaRestore", "restore"), [
      breaks("restore-secret-name", 'Secret "s" not found', "audit"),
    ]);
    const expected: AuditEntry[] = [
      {
        namespace: "b",
        apiVersion: "batch/v1",
        kind: "Job",
        name: "nightly",
        uid: "uid-nightly",
        rule: "backup-job-storage",
        mode: "enforce",
        result: "pass",
        message: "backup-job-storage holds",
      },
      {
        namespace: "b",
        apiVersion: "batch/v1",
        kind: "Job",
        name: "nightly",
        uid: "uid-nightly",
        rule: "backup-job-plaintext-credentials",
        mode: "warn",
        result: "warn",
        message: "spec.x: keys in plain text",
      },
      {
        namespace: "a",
        apiVersion: "apps.nebula-graph.io/v1alpha1",
        kind: "NebulaRestore",
        name: "restore",
        uid: "uid-restore",
        rule: "restore-secret-name",
        mode: "audit",
        result: "fail",
        message: 'spec.x: Secret "s" not found',
      },
    ];
    assert.deepEqual([...results.entries()], expected);
    assert.deepEqual(results.counts, { pass: 1, fail: 1, warn: 1 });
    assert.equal(results.objects, 2);
    assert.equal(results.results, 3);
    assert.deepEqual(results.byRule.get("restore-secret-name"), { pass: 0, fail: 1, warn: 0 });
    assert.deepEqual(results.namespaces(), ["a", "b"]);
  });

  it("orders a namespace's entries as reports always did: by kind/name/rule, localeCompare", () => {
    const results = new AuditResults();
    const names = ["b", "a-b", "a.b", "a", "A2", "a1", "z", "backup-10", "backup-9", "backup-1"];
    const rules = ["restore-region", "backup-job-storage", "restore-bucket"];
    for (const name of names)
      for (const kind of ["NebulaRestore", "Job"])
        results.add(
          item("nebula", kind, name),
          rules.map((id) => passes(id)),
        );
    const got = [...results.namespaceEntries("nebula")].map((e) => `${e.kind}/${e.name}/${e.rule}`);
    const before = [...got].sort((x, y) => x.localeCompare(y));
    assert.deepEqual(got, before);
    assert.equal(got.length, names.length * 2 * rules.length);
  });

  it("stores each message once however many objects share it", () => {
    const results = new AuditResults();
    for (let i = 0; i < 1000; i++)
      results.add(item("nebula", "Job", `job-${i}`), [
        breaks("backup-job-target-cluster", "cluster nebula has no BR"),
      ]);
    const messages = new Set([...results.entries()].map((e) => e.message));
    assert.deepEqual([...messages], ["spec.x: cluster nebula has no BR"]);
  });
});
