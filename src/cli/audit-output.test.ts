import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { auditEntry } from "../../test/support/fixtures.js";
import type { AuditEntry } from "../audit/audit.js";
import { ciCases, formatTable, jsonChunks, tableChunks, yamlChunks } from "./audit-command.js";
import { type CiCase, junitChunks, toJunit, toSarif } from "./ci-report.js";

const entry = (name: string, result: AuditEntry["result"], extra: Partial<AuditEntry> = {}) =>
  auditEntry(name, result, {
    message:
      result === "pass"
        ? "every call names a cluster with BR"
        : `spec.template.spec.containers[0].command[2]: cluster "x" of ${name} has no BR; set spec.enableBR: true on it, or back up a cluster that has it (a long message that a YAML writer folds)`,
    ...extra,
  });

const entries = [
  entry("a", "pass"),
  entry("b", "fail"),
  entry("c", "warn", { uid: undefined, message: 'quotes " and \\ and\nnewline' }),
];
const summary = { objects: 3, pass: 1, fail: 1, warn: 1 };

describe("audit outputs, written a piece at a time", () => {
  it("-o json is the document JSON.stringify wrote whole, summary first", () => {
    for (const list of [entries, []]) {
      const streamed = [...jsonChunks(summary, list)].join("");
      assert.equal(streamed, `${JSON.stringify({ summary, results: list }, null, 2)}\n`);
      assert.deepEqual(JSON.parse(streamed).results.length, list.length);
      assert.match(streamed, /^\{\n {2}"summary": \{/);
    }
  });

  it("-o yaml is the document the yaml package wrote whole, long lines folded alike", () => {
    for (const list of [entries, []]) {
      const streamed = [...yamlChunks(summary, list)].join("");
      assert.equal(streamed, toYaml({ summary, results: list }));
      assert.deepEqual(parseYaml(streamed), JSON.parse(JSON.stringify({ summary, results: list })));
    }
  });

  it("the table has the columns as wide as their widest cell", () => {
    const table = formatTable(entries.slice(0, 2));
    const lines = table.trimEnd().split("\n");
    assert.equal(lines.length, 3);
    assert.equal(
      lines[0],
      `NAMESPACE  KIND  NAME  ${"RULE".padEnd("backup-job-target-cluster".length)}  RESULT  MESSAGE`,
    );
    assert.equal(
      new Set(
        lines.map((l) =>
          l.indexOf("backup-job") > 0 ? l.indexOf("backup-job") : l.indexOf("RULE"),
        ),
      ).size,
      1,
    );
    assert.equal([...tableChunks(() => [])].join(""), "");
  });

  it("-o sarif is the document JSON.stringify wrote whole", () => {
    for (const list of [entries, []]) {
      const text = toSarif(ciCases(list));
      assert.equal(text, `${JSON.stringify(JSON.parse(text), null, 2)}\n`);
      assert.equal(
        JSON.parse(text).runs[0].results.length,
        list.filter((e) => e.result !== "pass").length,
      );
    }
  });

  it("-o junit groups cases by suite even when a suite's cases do not come together", () => {
    const cases: CiCase[] = ciCases([
      entry("a", "fail"),
      entry("r", "pass", { kind: "NebulaRestore" }),
      entry("b", "pass"),
    ]);
    const junit = toJunit(cases, "t");
    assert.deepEqual(
      [...junit.matchAll(/<testsuite name="([^"]+)" tests="(\d+)" failures="(\d+)"/g)].map((m) =>
        m.slice(1),
      ),
      [
        ["Job", "2", "1"],
        ["NebulaRestore", "1", "0"],
      ],
    );
    assert.deepEqual(
      [...junit.matchAll(/classname="(\w+) nebula\/(\w)"/g)].map((m) => `${m[1]}/${m[2]}`),
      ["Job/a", "Job/b", "NebulaRestore/r"],
    );
    // Whole or in pieces, the same text.
    assert.equal([...junitChunks(() => cases, "t")].join(""), junit);
  });
});
