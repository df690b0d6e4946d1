import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { lastMemo } from "./last-memo.js";

describe("a memo of the last object read", () => {
  it("answers for the object it was given, by identity, until another is set", () => {
    const memo = lastMemo<object, string>();
    const first = { name: "a" };
    const twin = { name: "a" };
    assert.equal(memo.get(first), undefined);
    memo.set(first, "reading of first");
    assert.equal(memo.get(first), "reading of first");
    assert.equal(memo.get(twin), undefined, "an equal object is another object");
    memo.set(twin, "reading of twin");
    assert.equal(memo.get(twin), "reading of twin");
    assert.equal(memo.get(first), undefined, "one entry: the first is forgotten");
  });
});
