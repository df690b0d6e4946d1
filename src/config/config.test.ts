import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "./config.js";

describe("configuration", () => {
  it("fills in the defaults", () => {
    const result = parseConfig(undefined);
    assert.ok(result.ok);
    assert.deepEqual(result.config, {
      clusterDomain: "cluster.local",
      defaultConcurrency: 5,
      operatorCredentials: false,
      crossNamespace: [],
      exemptNamespaces: ["kube-system"],
      failOpen: [],
      rules: {},
    });
  });

  it("rejects unknown keys, bad modes and a zero concurrency with their paths", () => {
    const result = parseConfig({
      clusterdomain: "x",
      defaultConcurrency: 0,
      rules: { "restore-region": "block" },
    });
    assert.ok(!result.ok);
    assert.match(result.reason, /unknown field "clusterdomain"/);
    assert.match(result.reason, /defaultConcurrency: must be >= 1/);
    assert.match(
      result.reason,
      /rules.restore-region: must be one of "enforce", "warn", "audit", "off"/,
    );
  });
});
