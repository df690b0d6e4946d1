import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Metrics } from "../../src/metrics.js";
import type { RunningServer } from "../../src/server/serve.js";
import { capturedLogs } from "../support/captured-logs.js";
import { example } from "../support/fixtures.js";
import { admissionReview, post } from "../support/https-client.js";
import { startInProcessServer } from "../support/in-process-server.js";

/** Metrics that fail the way a bug of ours would: after the rules have decided. */
class FailingMetrics extends Metrics {
  override recordAdmission(): void {
    throw new TypeError("a bug after the rules decided");
  }
}

const { logger, lines: logLines } = capturedLogs("info");

let server: RunningServer;
before(async () => {
  server = await startInProcessServer({
    metrics: new FailingMetrics(),
    logger,
  });
});
after(() => server.close(1000));

describe("when the webhook fails after its rules have decided", () => {
  it("still answers an object judged from memory alone, denying it, and keeps serving", {
    timeout: 10_000,
  }, async () => {
    // /mutate of a restore reads no Secret: the memory-only path, where such a failure used to
    // be an unhandled rejection: no answer at all (the API server waits out its deadline), and
    // the end of the process where Node.js ends it for that.
    const review = admissionReview(example("restore-accepted.yaml"));
    for (let i = 0; i < 2; i++) {
      const answer = await post(server.port, server.caPem as string, "/mutate", review);
      assert.equal(answer.status, 200);
      assert.equal(answer.body.response.uid, review.request.uid);
      assert.equal(answer.body.response.allowed, false);
      assert.match(answer.body.response.status.message, /could not check this object/);
    }
    assert.ok(logLines.some((line) => line.includes('"msg":"admission failed"')));
    assert.ok(!logLines.some((line) => line.includes("a bug after the rules decided")));
  });
});
