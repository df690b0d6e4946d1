import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  caSource,
  chooseRegistration,
  type RegistrationChoice,
  withOwnNamespace,
} from "./choose-registration.js";

const FLAGS: RegistrationChoice = {
  registerWebhooks: true,
  webhookConfiguration: "nebula-br-webhook",
  serviceName: "nebula-br-webhook",
  serviceNamespace: "br-guard",
  servicePort: 443,
  failurePolicy: "Fail",
  webhookTimeout: 5,
};
const EXEMPT = ["kube-system", "br-guard"];

describe("choosing what the webhook registers", () => {
  it("points the webhooks at the Service in its own namespace", () => {
    const chosen = chooseRegistration(FLAGS, EXEMPT);
    assert.ok(chosen.ok && chosen.registration?.kind === "register");
    assert.deepEqual(chosen.registration.settings, {
      configurationName: "nebula-br-webhook",
      endpoint: { service: { name: "nebula-br-webhook", namespace: "br-guard", port: 443 } },
      failurePolicy: "Fail",
      timeoutSeconds: 5,
      exemptNamespaces: EXEMPT,
    });
  });

  it("or at --webhook-url, which must be https://host:port", () => {
    const chosen = chooseRegistration({ ...FLAGS, webhookUrl: "https://127.0.0.1:8443" }, EXEMPT);
    assert.ok(chosen.ok && chosen.registration?.kind === "register");
    assert.deepEqual(chosen.registration.settings.endpoint, { url: "https://127.0.0.1:8443" });
    for (const url of ["http://127.0.0.1:8443", "https://h:1/validate", "https://h:1/?a=b", "h:1"])
      assert.equal(chooseRegistration({ ...FLAGS, webhookUrl: url }, EXEMPT).ok, false, url);
  });

  it("refuses what the API server would refuse, and a registration with no configuration named", () => {
    for (const flags of [
      { ...FLAGS, webhookConfiguration: undefined },
      { ...FLAGS, webhookTimeout: 31 },
      { ...FLAGS, webhookTimeout: 0 },
      { ...FLAGS, failurePolicy: "Sometimes" },
      { ...FLAGS, registerWebhooks: false, webhookUrl: "https://127.0.0.1:1" },
    ]) {
      const chosen = chooseRegistration(flags, EXEMPT);
      assert.equal(chosen.ok, false, JSON.stringify(flags));
    }
  });

  it("without --register-webhooks, keeps only the caBundle of the named configurations", () => {
    const chosen = chooseRegistration({ ...FLAGS, registerWebhooks: false }, EXEMPT);
    assert.deepEqual(chosen, {
      ok: true,
      registration: { kind: "ca-bundle", configurationName: "nebula-br-webhook" },
    });
    const none = chooseRegistration(
      { ...FLAGS, registerWebhooks: false, webhookConfiguration: undefined },
      EXEMPT,
    );
    assert.deepEqual(none, { ok: true, registration: undefined });
  });

  it("always exempts the webhook's own namespace, once", () => {
    assert.deepEqual(withOwnNamespace(["kube-system"], "br-guard"), ["kube-system", "br-guard"]);
    assert.deepEqual(withOwnNamespace(["br-guard"], "br-guard"), ["br-guard"]);
  });
});

describe("the CA written as caBundle", () => {
  it("is the webhook's own, or --ca-file read at each check", async () => {
    assert.deepEqual(await caSource(undefined, () => "OWN")(), { ok: true, pem: "OWN" });
    const file = join(tmpdir(), `nbw-ca-${process.pid}.pem`);
    const read = caSource(file, () => "OWN");
    assert.equal((await read()).ok, false, "missing file");
    await writeFile(file, "not a certificate");
    assert.equal((await read()).ok, false, "not PEM");
    const pem = "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n";
    await writeFile(file, pem);
    assert.deepEqual(await read(), { ok: true, pem });
  });
});
