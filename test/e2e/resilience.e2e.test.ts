import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { example, withFields } from "../support/fixtures.js";
import { admissionReview, post } from "../support/https-client.js";
import { apiCallsMade, timed } from "../support/measure.js";
import {
  type ControlPlane,
  eventually,
  kubectl,
  kubectlOk,
  pauseApiServer,
  restartApiServer,
  resumeApiServer,
  startClusterWithFixtures,
  startWebhook,
  stopControlPlane,
  type Webhook,
  webhookConfigurations,
} from "./harness.js";

let plane: ControlPlane;
let webhook: Webhook;

before(async () => {
  // The restores here have the 1.4-1.7 shape (spec.br).
  plane = await startClusterWithFixtures({ generation: "v1.4-1.7" });
  webhook = await startWebhook(plane, ["--audit-interval", "0", "--secret-timeout-ms", "1000"]);
  kubectlOk(plane, ["apply", "-f", "-"], webhookConfigurations(webhook.port, webhook.ca));
});

after(async () => {
  try {
    resumeApiServer(plane);
  } catch {
    // already running, or gone
  }
  await webhook?.stop();
  stopControlPlane(plane);
});

describe("a real API server that hangs, then restarts", () => {
  it("steady-state admission of br-ent Jobs makes no API call", async () => {
    const before = await apiCallsMade(webhook.port, webhook.ca);
    for (let i = 0; i < 20; i++) {
      const answer = await post(
        webhook.port,
        webhook.ca,
        "/mutate",
        admissionReview(example("backup-job.yaml")),
      );
      assert.equal(answer.body.response.allowed, true);
    }
    assert.equal(await apiCallsMade(webhook.port, webhook.ca), before);
  });

  it("while it hangs (SIGSTOP): Jobs are still judged from the cache, restores fail closed before the deadline", async (t) => {
    pauseApiServer(plane);
    try {
      const job = await timed(() =>
        post(
          webhook.port,
          webhook.ca,
          "/validate?timeout=5s",
          admissionReview(example("backup-job-denied.yaml")),
        ),
      );
      assert.match(
        job.value.body.response.status.message,
        /does not set spec.enableBR: true/,
        "judged from the informer cache",
      );
      assert.ok(job.ms < 500, `Job answered in ${job.ms} ms`);
      const restore = await timed(() =>
        post(
          webhook.port,
          webhook.ca,
          "/validate?timeout=5s",
          admissionReview(example("restore-accepted.yaml")),
        ),
      );
      assert.equal(restore.value.body.response.allowed, false);
      assert.match(
        restore.value.body.response.status.message,
        /cannot check Secret "aws-s3-secret" in namespace "nebula" \(reading the Secret failed: the API server did not answer in time\); try again/,
      );
      assert.ok(restore.ms < 5000, `restore answered in ${restore.ms} ms, inside the 5 s timeout`);
      t.diagnostic(
        `while hung: Job answered in ${job.ms} ms, restore in ${restore.ms} ms: ${restore.value.body.response.status.message}`,
      );
    } finally {
      resumeApiServer(plane);
    }
  });

  it("after a restart on the same port, restores are admitted again and the cache follows new clusters", async () => {
    restartApiServer(plane);
    const restore = withFields(example("restore-accepted.yaml"), {
      "metadata.name": "after-restart",
    });
    const admitted = await eventually(
      () => kubectl(plane, ["apply", "-f", "-"], JSON.stringify(restore)).status === 0,
      20_000,
    );
    assert.ok(admitted, "a restore is admitted after the restart");
    kubectlOk(
      plane,
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "apps.nebula-graph.io/v1alpha1",
        kind: "NebulaCluster",
        metadata: { name: "reborn", namespace: "nebula" },
        spec: { enableBR: true },
      }),
    );
    const job = withFields(example("backup-job.yaml"), {
      "metadata.name": "reborn-backup",
      "metadata.labels": { "app.kubernetes.io/cluster": "reborn" },
    });
    let last = "";
    const followed = await eventually(() => {
      const applied = kubectl(plane, ["apply", "--dry-run=server", "-f", "-"], JSON.stringify(job));
      last = applied.stderr;
      return applied.status === 0;
    }, 30_000);
    assert.ok(followed, `the informer resumed its watch: ${last}`);
  });
});
