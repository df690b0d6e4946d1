import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { copyJson } from "./objects.js";

describe("copyJson", () => {
  it("copies parsed JSON deeply: the copy shares nothing with the original", () => {
    const original = JSON.parse(
      '{"a":{"b":[1,"two",{"c":null}],"d":true},"e":[],"f":{},"g":1.5,"h":"x"}',
    );
    const copy = copyJson(original);
    assert.deepEqual(copy, original);
    copy.a.b[2].c = "changed";
    copy.a.b.push(4);
    copy.f.new = 1;
    assert.deepEqual(original.a.b, [1, "two", { c: null }]);
    assert.deepEqual(original.f, {});
  });

  it("keeps a __proto__ key as the plain property JSON.parse made, never as a prototype", () => {
    const original = JSON.parse('{"metadata":{"__proto__":{"polluted":true},"name":"x"}}');
    const copy = copyJson(original);
    assert.equal(Object.getPrototypeOf(copy.metadata), Object.prototype);
    assert.equal(copy.metadata.polluted, undefined);
    assert.deepEqual(Object.keys(copy.metadata), ["__proto__", "name"]);
    assert.deepEqual(JSON.stringify(copy), JSON.stringify(original));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});
