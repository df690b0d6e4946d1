import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeApiError, droppedConnection, retryWhenAsked } from "./api-errors.js";

/** As undici's fetch throws when the connection closes under a request. */
const dropped = (code = "UND_ERR_SOCKET") =>
  new TypeError("fetch failed", { cause: Object.assign(new Error("other side closed"), { code }) });
/** As client-node throws for an HTTP answer. */
const answered = (code: number) => Object.assign(new Error(`HTTP-Code: ${code}`), { code });

/** A call that fails with `errors`, one per attempt, then returns "listed". */
function failing(...errors: unknown[]) {
  let calls = 0;
  const call = async () => {
    calls++;
    const error = errors.shift();
    if (error !== undefined) throw error;
    return "listed";
  };
  return { call, calls: () => calls };
}

describe("reads sent again (retryWhenAsked)", () => {
  it("a read whose connection was dropped under it is sent again, and succeeds", async () => {
    for (const code of ["UND_ERR_SOCKET", "ECONNRESET", "EPIPE", "UND_ERR_CLOSED"]) {
      const read = failing(dropped(code));
      assert.equal(await retryWhenAsked(read.call), "listed", code);
      assert.equal(read.calls(), 2, code);
    }
  });

  it("429 and 503 are asked again, as the API server asks", async () => {
    const read = failing(answered(503));
    assert.equal(await retryWhenAsked(read.call), "listed");
    assert.equal(read.calls(), 2);
  });

  it("an answer (403, 404, 500) is not a dropped connection: thrown at once", async () => {
    for (const code of [403, 404, 500]) {
      const read = failing(answered(code));
      await assert.rejects(retryWhenAsked(read.call), { code });
      assert.equal(read.calls(), 1);
    }
  });

  it("a wait the caller will not sit out is not waited: the answer is thrown at once", async () => {
    const read = failing(answered(503));
    const asked: number[] = [];
    const refuse = (ms: number) => {
      asked.push(ms);
      return false;
    };
    await assert.rejects(retryWhenAsked(read.call, 5, refuse), { code: 503 });
    assert.equal(read.calls(), 1);
    assert.deepEqual(asked, [1000], "asked about the default Retry-After of 1 s");
  });

  it("a refused connection is an API server that is down: thrown at once", async () => {
    const read = failing(dropped("ECONNREFUSED"));
    await assert.rejects(retryWhenAsked(read.call), TypeError);
    assert.equal(read.calls(), 1);
  });

  it("gives up after its attempts", async () => {
    const read = failing(dropped(), dropped(), dropped());
    await assert.rejects(retryWhenAsked(read.call, 2), TypeError);
    assert.equal(read.calls(), 2);
  });
});

describe("droppedConnection", () => {
  it("looks through causes, not at messages", () => {
    assert.equal(droppedConnection(dropped()), true);
    assert.equal(droppedConnection(new Error("ECONNRESET")), false);
    assert.equal(droppedConnection(answered(500)), false);
    assert.equal(droppedConnection(undefined), false);
  });
});

describe("what a failed API call is told as (describeApiError)", () => {
  it("an answer by its HTTP status, never its body", () => {
    const error = Object.assign(new Error("HTTP 403"), { code: 403, body: "token abc" });
    assert.equal(describeApiError(error), "the API server answered HTTP 403");
  });

  it("a system or undici error by its code, not its message (which names the address)", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:443"), {
      code: "ECONNREFUSED",
    });
    assert.equal(describeApiError(refused), "ECONNREFUSED");
    const timedOut = Object.assign(new Error("Headers Timeout Error"), {
      code: "UND_ERR_HEADERS_TIMEOUT",
    });
    assert.equal(describeApiError(timedOut), "UND_ERR_HEADERS_TIMEOUT");
    assert.equal(describeApiError(dropped("ENOTFOUND")), "ENOTFOUND", "fetch's wrapped cause");
  });
});
