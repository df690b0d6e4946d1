import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { example } from "../support/fixtures.js";
import {
  type ControlPlane,
  freePort,
  kubectl,
  kubectlOk,
  startClusterWithFixtures,
  startWebhook,
  stopControlPlane,
  type Webhook,
  webhookConfigurations,
} from "./harness.js";

let plane: ControlPlane;
const webhooks: Webhook[] = [];
const SELF_MANAGED = [
  "--tls-secret",
  "nebula-br-webhook-tls",
  "--service-namespace",
  "nebula-br-webhook",
  "--webhook-configuration",
  "nebula-br-webhook",
];

before(async () => {
  // The restores here have the 1.4-1.7 shape (spec.br).
  plane = await startClusterWithFixtures({ generation: "v1.4-1.7" });
  kubectlOk(plane, ["create", "namespace", "nebula-br-webhook"]);
});

after(async () => {
  for (const webhook of webhooks) await webhook.stop();
  stopControlPlane(plane);
});

describe("self-managed certificates", () => {
  it("creates the shared Secret, writes the CA into both webhook configurations, and the API server trusts it", async () => {
    const port = await freePort();
    // Registered with no caBundle at all: only the webhook's own injection can make calls work.
    const withoutCa = webhookConfigurations(port, "").replace(/^\s*caBundle: .*$/gm, "");
    kubectlOk(plane, ["apply", "-f", "-"], withoutCa);
    webhooks.push(await startWebhook(plane, SELF_MANAGED, port));

    const secret = JSON.parse(
      kubectlOk(plane, [
        "-n",
        "nebula-br-webhook",
        "get",
        "secret",
        "nebula-br-webhook-tls",
        "-o",
        "json",
      ]),
    );
    assert.equal(secret.type, "kubernetes.io/tls");
    assert.deepEqual(Object.keys(secret.data).sort(), ["ca.crt", "ca.key", "tls.crt", "tls.key"]);
    for (const kind of ["validatingwebhookconfiguration", "mutatingwebhookconfiguration"]) {
      const config = JSON.parse(kubectlOk(plane, ["get", kind, "nebula-br-webhook", "-o", "json"]));
      for (const webhook of config.webhooks)
        assert.equal(
          webhook.clientConfig.caBundle,
          secret.data["ca.crt"],
          `${kind} ${webhook.name}`,
        );
    }
    const applied = kubectl(plane, ["apply", "-f", "examples/restore-accepted.yaml"]);
    assert.equal(applied.status, 0, applied.stderr);
  });

  it("a second replica reuses the Secret instead of making its own CA", async () => {
    const first = webhooks[0] as Webhook;
    const second = await startWebhook(plane, SELF_MANAGED);
    webhooks.push(second);
    assert.equal(second.ca, first.ca);
    const denied = kubectl(
      plane,
      ["apply", "-f", "-"],
      JSON.stringify(example("restore-denied.yaml")),
    );
    assert.match(denied.stderr, /\[restore-region\]/);
  });
});
