import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { example } from "../support/fixtures.js";
import { admissionReview, post } from "../support/https-client.js";
import { timed } from "../support/measure.js";
import { type ServeProcess, startServeProcess } from "../support/serve-process.js";
import { blackHole, closedPort, kubeconfigFor } from "../support/stand-ins.js";

// These tests put a stand-in where the API server would be (a closed port, or a socket that
// never answers): no real kube-apiserver can be made to fail this way on cue. The e2e suite
// pauses a real one (resilience.e2e.test.ts).

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "nbw-faults-"));
});

describe("when the API server is unreachable", () => {
  let webhook: ServeProcess;
  before(async () => {
    const kubeconfig = await kubeconfigFor(dir, await closedPort());
    webhook = await startServeProcess(["--kubeconfig", kubeconfig, "--audit-interval", "0"], {
      waitReady: false,
    });
  });
  after(() => webhook.stop());

  it("is live but not ready (the cache has not synced)", async () => {
    assert.equal(
      (await post(webhook.port, webhook.ca, "/healthz", undefined, { method: "GET" })).status,
      200,
    );
    const ready = await post(webhook.port, webhook.ca, "/readyz", undefined, { method: "GET" });
    assert.equal(ready.status, 503);
    assert.equal(ready.text, "cluster view not synced");
  });

  it("fails closed on a br-ent Job, at once, with a message that says to try again", async () => {
    const { value, ms } = await timed(() =>
      post(
        webhook.port,
        webhook.ca,
        "/validate?timeout=5s",
        admissionReview(example("backup-job.yaml")),
      ),
    );
    assert.equal(value.body.response.allowed, false);
    assert.match(
      value.body.response.status.message,
      /cannot check NebulaCluster "nebula" in namespace "nebula" \(.*\); try again/,
    );
    assert.ok(ms < 1000, `answered in ${ms} ms`);
  });

  it("still lets unrelated objects through untouched", async () => {
    const configMap = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c", namespace: "nebula" },
    };
    const answer = await post(webhook.port, webhook.ca, "/validate", admissionReview(configMap));
    assert.equal(answer.body.response.allowed, true);
  });
});

describe("when the API server hangs", () => {
  let hole: Awaited<ReturnType<typeof blackHole>>;
  let webhook: ServeProcess;
  before(async () => {
    hole = await blackHole();
    const kubeconfig = await kubeconfigFor(dir, hole.port);
    const failOpen = join(dir, "fail-open.yaml");
    await (await import("node:fs/promises")).writeFile(
      failOpen,
      "failOpen: [backup-job-target-cluster]\n",
    );
    webhook = await startServeProcess(
      [
        "--kubeconfig",
        kubeconfig,
        "--audit-interval",
        "0",
        "--secret-timeout-ms",
        "5000",
        "--config",
        failOpen,
      ],
      { waitReady: false },
    );
  });
  after(async () => {
    await webhook.stop();
    await hole.close();
  });

  it("answers a restore before the API server's deadline, though the Secret GET never returns", async () => {
    const { value, ms } = await timed(() =>
      post(
        webhook.port,
        webhook.ca,
        "/validate?timeout=1s",
        admissionReview(example("restore-accepted.yaml")),
      ),
    );
    assert.equal(value.status, 200);
    assert.equal(value.body.response.allowed, false);
    assert.equal(value.body.response.status.code, 504);
    assert.match(value.body.response.status.message, /could not decide within 750 ms .*try again/);
    assert.ok(ms < 1000, `answered in ${ms} ms, inside the 1 s timeout the API server gave`);
  });

  it("a rule configured to fail open admits what it cannot verify, with a warning", async () => {
    const answer = await post(
      webhook.port,
      webhook.ca,
      "/validate",
      admissionReview(example("backup-job.yaml")),
    );
    assert.equal(answer.body.response.allowed, true);
    assert.ok(
      answer.body.response.warnings.some((w: string) =>
        /\[backup-job-target-cluster\] .*cannot check NebulaCluster .*\(allowed: the rule fails open\)/.test(
          w,
        ),
      ),
      JSON.stringify(answer.body.response.warnings),
    );
  });

  it("times a Secret GET out by --secret-timeout-ms and says so", async () => {
    const short = await startServeProcess(
      [
        "--kubeconfig",
        await kubeconfigFor(dir, hole.port),
        "--audit-interval",
        "0",
        "--secret-timeout-ms",
        "300",
      ],
      { waitReady: false },
    );
    try {
      const { value, ms } = await timed(() =>
        post(
          short.port,
          short.ca,
          "/validate?timeout=10s",
          admissionReview(example("restore-accepted.yaml")),
        ),
      );
      assert.match(
        value.body.response.status.message,
        /cannot check Secret "aws-s3-secret" in namespace "nebula" \(reading the Secret failed: the API server did not answer in time\); try again/,
      );
      assert.ok(ms < 1500, `answered in ${ms} ms`);
    } finally {
      await short.stop();
    }
  });
});
