/**
 * Every kind that runs pods, through kubectl and the real API server, with the
 * webhooks the app registers (src/registration/webhooks.ts, matchConditions included): each
 * bypass class of the adversarial review is denied, which also proves the CEL filter sends
 * it to the webhook; the same workloads aimed at a BR-ready cluster are admitted; and with
 * the webhook down, workloads that do not run BR are never sent to it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BACKUP, BYPASSES, GOOD, sh } from "../support/bypasses.js";
import { WORKLOAD_KIND_NAMES, workload } from "../support/workloads.js";
import {
  type ControlPlane,
  kubectl,
  kubectlOk,
  startClusterWithFixtures,
  startWebhook,
  stopControlPlane,
  type Webhook,
  webhookConfigurations,
} from "./harness.js";

let plane: ControlPlane;
let webhook: Webhook | undefined;

/** A server-side dry run: the whole admission chain, nothing stored. */
const tryCreate = (object: unknown) =>
  kubectl(plane, ["create", "--dry-run=server", "-f", "-"], JSON.stringify(object));

before(async () => {
  plane = await startClusterWithFixtures();
  kubectlOk(plane, ["create", "namespace", "prod"]);
  webhook = await startWebhook(plane);
  kubectlOk(plane, ["apply", "-f", "-"], webhookConfigurations(webhook.port, webhook.ca));
});

after(async () => {
  await webhook?.stop();
  stopControlPlane(plane);
});

describe("bypass classes through kubectl", () => {
  for (const row of BYPASSES) {
    it(`denies ${row.name}`, { skip: row.notOnTheTestApiServer }, () => {
      const result = tryCreate(row.object);
      assert.notEqual(result.status, 0, `admitted: ${result.stdout}`);
      assert.match(result.stderr, /denied the request/);
      assert.match(result.stderr, new RegExp(`\\[${row.rule}\\]`));
    });
  }
});

describe("every kind that runs pods, through kubectl", () => {
  for (const kind of WORKLOAD_KIND_NAMES) {
    it(`denies a ${kind} backing up a cluster without BR, and admits one backing up a BR-ready cluster`, () => {
      const denied = tryCreate(workload(kind, { containers: [sh(BACKUP)] }));
      assert.notEqual(denied.status, 0, denied.stdout);
      assert.match(denied.stderr, /\[backup-job-target-cluster\].*"nebula-nobr".*spec\.enableBR/);
      const good = workload(kind, {
        containers: [sh(`br-ent backup full --meta ${GOOD} --storage s3://b-1`)],
      });
      const admitted = tryCreate(good);
      assert.equal(admitted.status, 0, admitted.stderr);
    });
  }

  it("judges an ephemeral container added to a running Pod (kubectl debug's subresource)", () => {
    const pod = workload(
      "Pod",
      {
        containers: [{ name: "main", image: "busybox", command: ["sleep", "3600"] }],
      },
      { name: "debug-me" },
    );
    kubectlOk(plane, ["create", "-f", "-"], JSON.stringify(pod));
    const patch = {
      spec: {
        ephemeralContainers: [
          { name: "br", image: "vesoft/br-ent:v3.7.0", command: ["/bin/sh", "-ec", BACKUP] },
        ],
      },
    };
    const result = kubectl(plane, [
      "-n",
      "nebula",
      "patch",
      "pod",
      "debug-me",
      "--subresource=ephemeralcontainers",
      "--type=strategic",
      "-p",
      JSON.stringify(patch),
    ]);
    assert.notEqual(result.status, 0, result.stdout);
    assert.match(result.stderr, /\[backup-job-target-cluster\]/);
  });
});

describe("what the matchConditions keep away from the webhook", () => {
  it("admits workloads that do not run BR with the webhook stopped (failurePolicy Fail)", async () => {
    await webhook?.stop();
    webhook = undefined;
    for (const kind of WORKLOAD_KIND_NAMES) {
      const plain = workload(kind, {
        containers: [{ name: "app", image: "nebula-br-webhook:0.1", command: ["sleep", "60"] }],
      });
      const result = tryCreate(plain);
      assert.equal(result.status, 0, `${kind}: ${result.stderr}`);
    }
    const guarded = tryCreate(workload("Job", { initContainers: [sh(BACKUP)], containers: [] }));
    assert.notEqual(guarded.status, 0);
    assert.match(guarded.stderr, /failed calling webhook/);
  });
});
