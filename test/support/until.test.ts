import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { eventually, firstValue, poll, until } from "./until.js";

/** A probe that gives `value` from its `nth` asking on, counting how often it was asked. */
function givesFrom<T>(nth: number, value: T) {
  let asked = 0;
  const probe = () => (++asked >= nth ? value : undefined);
  return { probe, asked: () => asked };
}

describe("waiting until something holds (the tests' one polling loop)", () => {
  it("gives the first value the probe gives, asking no more after it", async () => {
    const gives = givesFrom(3, "ready");
    assert.equal(await poll(gives.probe, { everyMs: 1 }), "ready");
    assert.equal(gives.asked(), 3);
  });

  it("asks once more at the deadline, then gives up with undefined", async () => {
    const started = Date.now();
    // Answers only once the deadline has passed: found by the last asking alone.
    const late = () => (Date.now() - started >= 60 ? "late" : undefined);
    assert.equal(await poll(late, { timeoutMs: 60, everyMs: 20 }), "late");
    const never = givesFrom(Number.POSITIVE_INFINITY, "never");
    const again = Date.now();
    assert.equal(await poll(never.probe, { timeoutMs: 60, everyMs: 20 }), undefined);
    const waited = Date.now() - again;
    assert.ok(waited >= 60, `gave up after ${waited} ms, before the deadline`);
    assert.ok(waited < 1060, `gave up after ${waited} ms, long after the deadline`);
    assert.ok(never.asked() >= 2, `asked ${never.asked()} times in 60 ms, every 20 ms`);
  });

  it("asks every 50 ms for 5 s unless told otherwise", async () => {
    const started = Date.now();
    let asked = 0;
    const lateInTheDefault = () => {
      asked++;
      return Date.now() - started >= 4900 ? "late" : undefined;
    };
    assert.equal(await poll(lateInTheDefault), "late", "still asking after 4.9 s");
    assert.ok(asked >= 30 && asked <= 101, `asked ${asked} times in 4.9 s`);
  });

  it("lets a probe's error through at once: a process that exited is not waited on", async () => {
    const failing = () => {
      throw new Error("exited");
    };
    await assert.rejects(poll(failing, { timeoutMs: 5000 }), /exited/);
  });

  it("says whether a check came true, with asynchronous checks too", async () => {
    const comesTrue = givesFrom(2, true);
    assert.equal(await eventually(() => comesTrue.probe() === true, { everyMs: 1 }), true);
    assert.equal(await eventually(async () => false, { timeoutMs: 20, everyMs: 5 }), false);
  });

  it("fails the test naming what it waited for", async () => {
    await assert.rejects(
      until(() => false, "the watch is open", { timeoutMs: 20, everyMs: 5 }),
      {
        message: "timed out waiting until the watch is open",
      },
    );
    await assert.rejects(
      firstValue(() => undefined, "the first audit", { timeoutMs: 20, everyMs: 5 }),
      { message: "timed out waiting for the first audit" },
    );
    assert.equal(await firstValue(givesFrom(1, 7).probe, "a number"), 7);
  });
});
