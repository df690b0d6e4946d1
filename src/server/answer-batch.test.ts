import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { describe, it } from "node:test";
import { batchedAnswers } from "./answer-batch.js";

/** A response that records what was written to it, in one log shared by all of them. */
function response(name: string, written: string[], fails = false) {
  const res = {
    destroyed: false,
    end(text: string) {
      if (fails) throw new RangeError("content-length mismatch");
      written.push(`${name}:${text}`);
    },
    destroy() {
      res.destroyed = true;
    },
  };
  return res;
}

/** A scheduler the test runs by hand: the turn's end. */
function turns() {
  const queued: (() => void)[] = [];
  return {
    schedule: (flush: () => void) => queued.push(flush),
    scheduled: () => queued.length,
    endTurn: () => {
      for (const flush of queued.splice(0)) flush();
    },
  };
}

const asResponse = (res: ReturnType<typeof response>) => res as unknown as ServerResponse;

const noFailures = (error: unknown) => assert.fail(`no answer should fail here: ${String(error)}`);

describe("answers are sent together at the end of the event loop's turn", () => {
  it("writes nothing while the turn lasts, then every answer of it in the order made", () => {
    const written: string[] = [];
    const turn = turns();
    const end = batchedAnswers(noFailures, turn.schedule);
    end(asResponse(response("a", written)), "1");
    end(asResponse(response("b", written)), "2");
    end(asResponse(response("c", written)), "3");
    assert.deepEqual(written, []);
    assert.equal(turn.scheduled(), 1, "one flush for the whole turn");
    turn.endTurn();
    assert.deepEqual(written, ["a:1", "b:2", "c:3"]);
  });

  it("starts a new batch in the next turn", () => {
    const written: string[] = [];
    const turn = turns();
    const end = batchedAnswers(noFailures, turn.schedule);
    end(asResponse(response("a", written)), "1");
    turn.endTurn();
    end(asResponse(response("b", written)), "2");
    assert.equal(turn.scheduled(), 1);
    turn.endTurn();
    assert.deepEqual(written, ["a:1", "b:2"]);
  });

  it("still sends the others when one answer cannot be written, closes that one and says so", () => {
    const written: string[] = [];
    const failures: unknown[] = [];
    const turn = turns();
    const end = batchedAnswers((error) => failures.push(error), turn.schedule);
    const broken = response("b", written, true);
    end(asResponse(response("a", written)), "1");
    end(asResponse(broken), "2");
    end(asResponse(response("c", written)), "3");
    turn.endTurn();
    assert.deepEqual(written, ["a:1", "c:3"]);
    assert.equal(broken.destroyed, true);
    assert.equal(failures.length, 1);
    assert.ok(failures[0] instanceof RangeError);
  });

  it("sends by default once the event loop's turn is over", async () => {
    const written: string[] = [];
    const end = batchedAnswers(noFailures);
    end(asResponse(response("a", written)), "1");
    await Promise.resolve();
    assert.deepEqual(written, [], "not even after this turn's promises");
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(written, ["a:1"]);
  });
});
