/**
 * The webhook as the image ships it, against the real API server: `serve` runs from the image's
 * filesystem (chroot as 65532, the image's entrypoint and environment) with a kubeconfig copied
 * into it, and kubectl's objects go through it.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { example } from "../support/fixtures.js";
import {
  type ImageScratch,
  type ImageWebhook,
  imageRootfs,
  imageScratch,
  imageUnavailable,
  startImageWebhook,
} from "../support/image.js";
import { processMemoryKiB } from "../support/measure.js";
import {
  type ControlPlane,
  kubectl,
  kubectlOk,
  startClusterWithFixtures,
  stopControlPlane,
  webhookConfigurations,
} from "./harness.js";

const unavailable = imageUnavailable();

let plane: ControlPlane | undefined;
let scratch: ImageScratch | undefined;
let webhook: ImageWebhook | undefined;

const apply = (object: unknown) =>
  kubectl(plane as ControlPlane, ["apply", "-f", "-"], JSON.stringify(object));

before(
  async () => {
    if (unavailable) return;
    const image = imageRootfs();
    // The documented restore (spec.br) is the operator 1.4-1.7 shape.
    plane = await startClusterWithFixtures({ generation: "v1.4-1.7" });
    scratch = imageScratch(image);
    // chroot sees only the image: the kubeconfig (its certificates embedded) goes inside.
    const kubeconfig = scratch.put("kubeconfig", readFileSync(plane.kubeconfig));
    webhook = await startImageWebhook(image, scratch, ["--kubeconfig", kubeconfig], {
      logDir: join(plane.dir, "logs"),
    });
    kubectlOk(plane, ["apply", "-f", "-"], webhookConfigurations(webhook.port, webhook.ca));
  },
  { timeout: 30 * 60 * 1000 },
);

after(async () => {
  await webhook?.stop();
  stopControlPlane(plane);
  scratch?.remove();
});

describe("the webhook from the image's filesystem, behind a real API server", {
  skip: unavailable,
}, () => {
  it("reads the cluster through the kubeconfig copied into the image: a live view, synced", () => {
    const log = readFileSync((webhook as ImageWebhook).logFile, "utf8");
    assert.match(log, /"clusterView":"live cluster https:\/\/127\.0\.0\.1:\d+"/);
    assert.match(log, /"msg":"cluster view synced"/);
  });

  it("idles in under 100 MiB RSS with its live cluster view synced (issue 11)", async (t) => {
    // Before any admission: what a replica holds while it waits (informer, audit, lease).
    await sleep(2000);
    const pid = (webhook as ImageWebhook).process.pid as number;
    const rssKiB = processMemoryKiB(pid, "VmRSS");
    t.diagnostic(`idle RSS of serve in the image, live view: ${(rssKiB / 1024).toFixed(1)} MiB`);
    // About 91 MiB (127 MiB before image/build.sh's memory settings).
    assert.ok(rssKiB < 100 * 1024, `RSS ${rssKiB} KiB`);
  });

  it("denies a br-ent Job for a cluster without enableBR: true, and stores nothing", () => {
    const applied = apply(example("backup-job-denied.yaml"));
    assert.notEqual(applied.status, 0);
    assert.match(applied.stderr, /admission webhook ".*nebula-br-webhook.io" denied the request/);
    assert.match(
      applied.stderr,
      /NebulaCluster "nebula-nobr" in namespace "nebula" does not set spec.enableBR: true/,
    );
    const stored = kubectl(plane as ControlPlane, [
      "-n",
      "nebula",
      "get",
      "job",
      "nebula-nobr-backup",
    ]);
    assert.notEqual(stored.status, 0, "the denied Job was stored");
  });

  it("admits the documented restore and stores it with concurrency: 5 (the mutating webhook's patch)", () => {
    const applied = apply(example("restore-accepted.yaml"));
    assert.equal(applied.status, 0, applied.stderr);
    const stored = kubectlOk(plane as ControlPlane, [
      "-n",
      "nebula",
      "get",
      "nebularestore",
      "restore1",
      "-o",
      "jsonpath={.spec.br.concurrency}",
    ]);
    assert.equal(stored, "5");
  });

  it("exits 0 on SIGTERM", async () => {
    assert.equal(await webhook?.stop(), 0);
  });
});
