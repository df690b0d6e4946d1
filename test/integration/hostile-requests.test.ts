import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { example } from "../support/fixtures.js";
import { admissionReview, post } from "../support/https-client.js";
import { processMemoryKiB } from "../support/measure.js";
import { startServeProcess } from "../support/serve-process.js";

/** Resident memory of a process, in MiB (Linux). */
const rssMiB = (pid: number): number => processMemoryKiB(pid, "VmRSS") / 1024;

const MiB = 1024 * 1024;
const ROUNDS = 80;
/** The memory limit of the shipped Deployment (manifests/base/deployment.yaml). */
const POD_LIMIT_MIB = 256;

describe("hostile request values", () => {
  it(`${ROUNDS} requests with 1 MiB kinds, groups, operations and names leave /metrics and the logs free of them, and RSS flat`, async (t) => {
    const marker = `HOSTILE${randomBytes(6).toString("hex")}`;
    const huge = (i: number) => `${marker}${"K".repeat(MiB)}${i}`;
    const configMap = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "x", namespace: "nebula" },
    };
    /** Each round a different hostile string in a different place of the review. */
    const hostileReview = (i: number): unknown => {
      const review = admissionReview(i % 4 === 1 ? example("backup-job.yaml") : configMap);
      const request = review.request;
      switch (i % 4) {
        case 0:
          request.kind = { group: "", version: "v1", kind: huge(i) };
          break;
        case 1:
          request.kind = { group: huge(i), version: "v1", kind: "Job" };
          break;
        case 2:
          request.operation = huge(i);
          break;
        default:
          request.uid = `${marker} ☃ ${i}`;
          request.namespace = huge(i);
          request.name = `${marker}-Name_${i}`;
      }
      return review;
    };

    // With the image's node flags and environment: the pod's limit is for the webhook as it ships.
    const webhook = await startServeProcess(
      ["--cluster-state", "examples/cluster-state.yaml", "--log-level", "debug"],
      { asShipped: true },
    );
    try {
      const statuses = new Map<number, number>();
      const send = async (i: number) => {
        const answer = await post(
          webhook.port,
          webhook.ca,
          i % 2 ? "/validate" : "/mutate",
          hostileReview(i),
        );
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      };
      // Warm up (JIT, buffers), then measure around the loop.
      for (let i = 0; i < 8; i++) await send(i);
      await sleep(200);
      const pid = webhook.process.pid as number;
      const before = rssMiB(pid);
      for (let i = 0; i < ROUNDS; i++) await send(i);
      await sleep(200);
      const after = rssMiB(pid);
      const metrics = (
        await post(webhook.port, webhook.ca, "/metrics", undefined, { method: "GET" })
      ).text;
      t.diagnostic(
        `RSS ${before.toFixed(1)} MiB before, ${after.toFixed(1)} MiB after ${ROUNDS} hostile requests of 1 MiB each; /metrics ${metrics.length} bytes`,
      );

      assert.deepEqual(
        [...statuses.keys()].filter((status) => status !== 200 && status !== 400),
        [],
        "every request answered with a review or a 400",
      );
      assert.ok(!metrics.includes(marker), "/metrics echoes a request value");
      assert.ok(metrics.length < 64 * 1024, `/metrics is ${metrics.length} bytes`);
      assert.match(metrics, /kind="other"/);
      assert.ok(after - before < 64, `RSS grew ${after - before} MiB`);
      assert.ok(after < POD_LIMIT_MIB, `RSS ${after} MiB`);
    } finally {
      await webhook.stop();
    }
    const logs = await readFile(webhook.logFile, "utf8");
    assert.ok(
      logs.includes('"admission"') || logs.includes("bad admission review"),
      "requests were logged",
    );
    assert.ok(!logs.includes(marker), "a log line holds a request value");
  });
});
