import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { V1ValidatingWebhook } from "@kubernetes/client-node";
import { createLogger } from "../log.js";
import type {
  ConfigurationKind,
  ConfigurationRead,
  ConfigurationStore,
  ConfigurationWrite,
  WebhookConfiguration,
} from "./configuration-store.js";
import { type Readiness, type Registration, WebhookRegistrar } from "./registrar.js";
import { WEBHOOK_NAME_SUFFIX } from "./webhooks.js";

const NAME = "nebula-br-webhook";
const CA = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
const CA_BUNDLE = Buffer.from(CA).toString("base64");

/**
 * Both configurations in memory, as the API server keeps them: an apply names the live uid
 * (a deleted configuration is not created again), merges webhooks by name, and the server
 * adds defaults of its own.
 */
class MemoryConfigurations implements ConfigurationStore {
  readonly live = new Map<ConfigurationKind, WebhookConfiguration>();
  readonly writes: { verb: "apply" | "update"; kind: ConfigurationKind }[] = [];
  failing: string | undefined;
  private uids = 0;

  install(kind: ConfigurationKind, webhooks?: V1ValidatingWebhook[]): void {
    this.live.set(kind, {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind,
      metadata: { name: NAME, uid: `uid-${++this.uids}` },
      ...(webhooks ? { webhooks } : {}),
    });
  }

  async read(kind: ConfigurationKind): Promise<ConfigurationRead> {
    if (this.failing) return { state: "error", reason: this.failing };
    const configuration = this.live.get(kind);
    return configuration
      ? { state: "found", configuration: structuredClone(configuration) }
      : { state: "absent" };
  }

  async apply(kind: ConfigurationKind, applied: WebhookConfiguration): Promise<ConfigurationWrite> {
    this.writes.push({ verb: "apply", kind });
    const current = this.live.get(kind);
    if (!current || current.metadata?.uid !== applied.metadata?.uid)
      return { ok: false, conflict: true, reason: "uid mismatch" };
    const ours = new Set((applied.webhooks ?? []).map((w) => w.name));
    const foreign = (current.webhooks ?? []).filter(
      (w) => !ours.has(w.name) && !w.name.endsWith(WEBHOOK_NAME_SUFFIX),
    );
    const withDefaults = (applied.webhooks ?? []).map((w) => ({
      ...structuredClone(w),
      matchPolicy: "Equivalent",
      objectSelector: {},
      rules: (w.rules ?? []).map((rule) => ({ ...rule, scope: "*" })),
    }));
    current.webhooks = [...withDefaults, ...foreign];
    return { ok: true };
  }

  async replace(kind: ConfigurationKind, body: WebhookConfiguration): Promise<ConfigurationWrite> {
    this.writes.push({ verb: "update", kind });
    if (!this.live.has(kind)) return { ok: false, conflict: true, reason: "gone" };
    this.live.set(kind, structuredClone(body));
    return { ok: true };
  }
}

const REGISTER: Registration = {
  kind: "register",
  settings: {
    configurationName: NAME,
    endpoint: { service: { name: NAME, namespace: "br-guard", port: 443 } },
    failurePolicy: "Fail",
    timeoutSeconds: 5,
    exemptNamespaces: ["kube-system", "br-guard"],
  },
};

function registrar(
  store: ConfigurationStore,
  options: {
    registration?: Registration;
    ca?: () => string | undefined;
    ready?: () => Promise<Readiness>;
  } = {},
): WebhookRegistrar {
  return new WebhookRegistrar({
    registration: options.registration ?? REGISTER,
    store,
    logger: createLogger("silent"),
    caPem: async () => ({ ok: true, pem: (options.ca ?? (() => CA))() }),
    ready: options.ready ?? (async () => ({ ready: true })),
    intervalMs: 20,
    readyPollMs: 5,
  });
}

const bothInstalled = (store: MemoryConfigurations) => {
  store.install("ValidatingWebhookConfiguration");
  store.install("MutatingWebhookConfiguration");
};
const webhooksOf = (store: MemoryConfigurations, kind: ConfigurationKind) =>
  store.live.get(kind)?.webhooks ?? [];

describe("webhook registration", () => {
  it("fills in the webhooks of both installed configurations, with the CA", async () => {
    const store = new MemoryConfigurations();
    bothInstalled(store);
    const outcomes = await registrar(store).checkOnce();
    assert.equal(outcomes.ValidatingWebhookConfiguration.state, "written");
    assert.equal(outcomes.MutatingWebhookConfiguration.state, "written");
    assert.equal(webhooksOf(store, "ValidatingWebhookConfiguration").length, 9);
    assert.equal(webhooksOf(store, "MutatingWebhookConfiguration").length, 4);
    for (const webhook of webhooksOf(store, "ValidatingWebhookConfiguration"))
      assert.equal(webhook.clientConfig.caBundle, CA_BUNDLE);
  });

  it("never creates a configuration that is not there", async () => {
    const store = new MemoryConfigurations();
    store.install("ValidatingWebhookConfiguration");
    const outcomes = await registrar(store).checkOnce();
    assert.equal(outcomes.MutatingWebhookConfiguration.state, "absent");
    assert.equal(store.live.has("MutatingWebhookConfiguration"), false);
    assert.deepEqual(
      store.writes.map((w) => w.kind),
      ["ValidatingWebhookConfiguration"],
    );
  });

  it("does not bring back a configuration deleted between the read and the write", async () => {
    const store = new MemoryConfigurations();
    bothInstalled(store);
    const apply = store.apply.bind(store);
    store.apply = async (kind, body) => {
      store.live.delete(kind); // uninstalled meanwhile
      return apply(kind, body);
    };
    const outcomes = await registrar(store).checkOnce();
    assert.equal(outcomes.ValidatingWebhookConfiguration.state, "absent");
    assert.equal(store.live.size, 0);
  });

  it("writes nothing when the webhooks match, server defaults and all", async () => {
    const store = new MemoryConfigurations();
    bothInstalled(store);
    const webhook = registrar(store);
    await webhook.checkOnce();
    const writes = store.writes.length;
    const outcomes = await webhook.checkOnce();
    assert.equal(outcomes.ValidatingWebhookConfiguration.state, "in-sync");
    assert.equal(store.writes.length, writes);
  });

  it("writes again when the webhooks were reset, changed or one is left over", async () => {
    const store = new MemoryConfigurations();
    bothInstalled(store);
    const webhook = registrar(store);
    await webhook.checkOnce();
    const validating = store.live.get("ValidatingWebhookConfiguration") as WebhookConfiguration;

    validating.webhooks = [];
    let outcome = (await webhook.checkOnce()).ValidatingWebhookConfiguration;
    assert.deepEqual(outcome, { state: "written", why: "no webhooks registered" });

    (validating.webhooks[0] as V1ValidatingWebhook).failurePolicy = "Ignore";
    outcome = (await webhook.checkOnce()).ValidatingWebhookConfiguration;
    assert.deepEqual(outcome, {
      state: "written",
      why: "changed nebularestores.nebula-br-webhook.io",
    });
    assert.equal(webhooksOf(store, "ValidatingWebhookConfiguration")[0]?.failurePolicy, "Fail");

    const leftOver = structuredClone(validating.webhooks[0]) as V1ValidatingWebhook;
    leftOver.name = `retired${WEBHOOK_NAME_SUFFIX}`;
    validating.webhooks.push(leftOver);
    outcome = (await webhook.checkOnce()).ValidatingWebhookConfiguration;
    assert.equal(outcome.state, "written");
    assert.equal(
      webhooksOf(store, "ValidatingWebhookConfiguration").some((w) => w.name === leftOver.name),
      false,
    );
  });

  it("leaves webhooks of others alone", async () => {
    const store = new MemoryConfigurations();
    bothInstalled(store);
    const webhook = registrar(store);
    await webhook.checkOnce();
    const foreign = {
      ...structuredClone(webhooksOf(store, "ValidatingWebhookConfiguration")[0]),
      name: "someone.example.com",
    } as V1ValidatingWebhook;
    webhooksOf(store, "ValidatingWebhookConfiguration").push(foreign);
    const outcome = (await webhook.checkOnce()).ValidatingWebhookConfiguration;
    assert.equal(outcome.state, "in-sync");
  });

  it("writes a renewed CA", async () => {
    const store = new MemoryConfigurations();
    bothInstalled(store);
    let ca = CA;
    const webhook = registrar(store, { ca: () => ca });
    await webhook.checkOnce();
    ca = CA.replace("CA", "RENEWED");
    const outcome = (await webhook.checkOnce()).MutatingWebhookConfiguration;
    assert.equal(outcome.state, "written");
    assert.equal(
      webhooksOf(store, "MutatingWebhookConfiguration")[0]?.clientConfig.caBundle,
      Buffer.from(ca).toString("base64"),
    );
  });

  it("writes nothing when the CA cannot be read, or the API server cannot be", async () => {
    const store = new MemoryConfigurations();
    bothInstalled(store);
    const unreadable = new WebhookRegistrar({
      registration: REGISTER,
      store,
      logger: createLogger("silent"),
      caPem: async () => ({ ok: false, reason: "cannot read --ca-file" }),
      ready: async () => ({ ready: true }),
      intervalMs: 20,
    });
    const outcome = (await unreadable.checkOnce()).ValidatingWebhookConfiguration;
    assert.deepEqual(outcome, { state: "failed", reason: "cannot read --ca-file" });
    store.failing = "forbidden";
    assert.equal((await registrar(store).checkOnce()).MutatingWebhookConfiguration.state, "failed");
    assert.equal(store.writes.length, 0);
  });

  it("waits until the replica is ready, then keeps the webhooks in place until stopped", async () => {
    const store = new MemoryConfigurations();
    bothInstalled(store);
    let ready = false;
    const webhook = registrar(store, {
      ready: async () => (ready ? { ready: true } : { ready: false, waitingFor: "sync" }),
    });
    webhook.start();
    await sleep(50);
    assert.equal(store.writes.length, 0, "nothing written before the replica is ready");
    ready = true;
    await sleep(50);
    assert.equal(webhooksOf(store, "ValidatingWebhookConfiguration").length, 9);
    (store.live.get("ValidatingWebhookConfiguration") as WebhookConfiguration).webhooks = [];
    await sleep(80);
    assert.equal(webhooksOf(store, "ValidatingWebhookConfiguration").length, 9, "restored");
    await webhook.stop();
    const writes = store.writes.length;
    (store.live.get("ValidatingWebhookConfiguration") as WebhookConfiguration).webhooks = [];
    await sleep(60);
    assert.equal(store.writes.length, writes, "stopped");
  });
});

describe("caBundle only (webhooks registered by someone else)", () => {
  it("writes the CA into every webhook that lacks it, and nothing else", async () => {
    const store = new MemoryConfigurations();
    const theirs = [
      {
        name: "a.example.com",
        clientConfig: { url: "https://127.0.0.1:1/validate" },
        sideEffects: "None",
        admissionReviewVersions: ["v1"],
      },
    ];
    store.install("ValidatingWebhookConfiguration", theirs);
    const webhook = registrar(store, {
      registration: { kind: "ca-bundle", configurationName: NAME },
    });
    const outcomes = await webhook.checkOnce();
    assert.deepEqual(outcomes.ValidatingWebhookConfiguration, {
      state: "written",
      why: "caBundle of a.example.com",
    });
    assert.equal(outcomes.MutatingWebhookConfiguration.state, "absent");
    assert.deepEqual(webhooksOf(store, "ValidatingWebhookConfiguration"), [
      { ...theirs[0], clientConfig: { url: "https://127.0.0.1:1/validate", caBundle: CA_BUNDLE } },
    ]);
    assert.equal((await webhook.checkOnce()).ValidatingWebhookConfiguration.state, "in-sync");
    assert.deepEqual(
      store.writes.map((w) => w.verb),
      ["update"],
    );
  });
});
