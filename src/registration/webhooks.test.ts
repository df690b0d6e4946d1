import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mayRunBr, renderWebhookConfigurations, type WebhookSettings } from "./webhooks.js";

const IN_CLUSTER: WebhookSettings = {
  configurationName: "nebula-br-webhook",
  endpoint: { service: { name: "nebula-br-webhook", namespace: "br-guard", port: 443 } },
  failurePolicy: "Fail",
  timeoutSeconds: 5,
  exemptNamespaces: ["kube-system", "br-guard"],
  caPem: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n",
};

const rendered = renderWebhookConfigurations(IN_CLUSTER);
const all = [...(rendered.mutating.webhooks ?? []), ...(rendered.validating.webhooks ?? [])];

describe("the registered webhooks", () => {
  it("are 4 mutating and 9 validating webhooks, each named once per configuration", () => {
    assert.deepEqual(
      rendered.mutating.webhooks?.map((w) => w.name),
      [
        "nebularestores.nebula-br-webhook.io",
        "nebulabackups.nebula-br-webhook.io",
        "backup-jobs.nebula-br-webhook.io",
        "backup-cronjobs.nebula-br-webhook.io",
      ],
    );
    const validating = rendered.validating.webhooks?.map((w) => w.name) ?? [];
    assert.equal(validating.length, 9);
    assert.equal(new Set(validating).size, 9);
    assert.equal(rendered.mutating.metadata?.name, "nebula-br-webhook");
    assert.equal(rendered.validating.metadata?.name, "nebula-br-webhook");
  });

  it("point at the Service of the install's namespace, /mutate and /validate", () => {
    for (const webhook of rendered.mutating.webhooks ?? [])
      assert.deepEqual(webhook.clientConfig.service, {
        name: "nebula-br-webhook",
        namespace: "br-guard",
        path: "/mutate",
        port: 443,
      });
    for (const webhook of rendered.validating.webhooks ?? [])
      assert.equal(webhook.clientConfig.service?.path, "/validate");
  });

  it("point at a URL outside the cluster when given one", () => {
    const outside = renderWebhookConfigurations({
      ...IN_CLUSTER,
      endpoint: { url: "https://127.0.0.1:8443/" },
    });
    assert.equal(outside.mutating.webhooks?.[0]?.clientConfig.url, "https://127.0.0.1:8443/mutate");
    assert.equal(
      outside.validating.webhooks?.[0]?.clientConfig.url,
      "https://127.0.0.1:8443/validate",
    );
    assert.equal(outside.validating.webhooks?.[0]?.clientConfig.service, undefined);
  });

  it("carry the CA as base64 caBundle, and no caBundle without a CA", () => {
    const caBundle = Buffer.from(IN_CLUSTER.caPem as string).toString("base64");
    for (const webhook of all) assert.equal(webhook.clientConfig.caBundle, caBundle);
    const { caPem: _, ...withoutCa } = IN_CLUSTER;
    const bare = renderWebhookConfigurations(withoutCa);
    for (const webhook of bare.validating.webhooks ?? [])
      assert.equal("caBundle" in webhook.clientConfig, false);
  });

  it("exclude the exempt namespaces, with the failure policy and timeout asked for", () => {
    const lenient = renderWebhookConfigurations({
      ...IN_CLUSTER,
      failurePolicy: "Ignore",
      timeoutSeconds: 10,
    });
    for (const webhook of [
      ...(lenient.mutating.webhooks ?? []),
      ...(lenient.validating.webhooks ?? []),
    ]) {
      assert.deepEqual(webhook.namespaceSelector, {
        matchExpressions: [
          {
            key: "kubernetes.io/metadata.name",
            operator: "NotIn",
            values: ["kube-system", "br-guard"],
          },
        ],
      });
      assert.equal(webhook.failurePolicy, "Ignore");
      assert.equal(webhook.timeoutSeconds, 10);
      assert.equal(webhook.sideEffects, "None");
      assert.deepEqual(webhook.admissionReviewVersions, ["v1"]);
    }
  });

  it("send workloads only when their pods may run BR, and mutate only what a person wrote", () => {
    const conditions = (name: string, from = rendered.validating) =>
      from.webhooks?.find((w) => w.name === name)?.matchConditions?.map((c) => c.name);
    assert.deepEqual(conditions("nebularestores.nebula-br-webhook.io"), undefined);
    assert.deepEqual(conditions("br-pods.nebula-br-webhook.io"), ["may-run-br"]);
    assert.deepEqual(conditions("br-daemonsets.nebula-br-webhook.io"), ["may-run-br"]);
    assert.deepEqual(conditions("backup-jobs.nebula-br-webhook.io", rendered.mutating), [
      "may-run-br",
      "not-made-by-a-controller",
    ]);
  });
});

describe("the may-run-br condition", () => {
  it("asks has() of every step of the pod spec's path before reading it", () => {
    const expression = mayRunBr("object.spec.jobTemplate.spec.template.spec");
    assert.match(
      expression,
      /^has\(object\.spec\) &&\nhas\(object\.spec\.jobTemplate\) &&\nhas\(object\.spec\.jobTemplate\.spec\) &&\nhas\(object\.spec\.jobTemplate\.spec\.template\) &&\nhas\(object\.spec\.jobTemplate\.spec\.template\.spec\) && \(\n/,
    );
  });

  it("reads init containers, containers and image volumes, and ephemeral containers of pods", () => {
    const pod = mayRunBr("object.spec", true);
    for (const list of ["volumes", "initContainers", "containers", "ephemeralContainers"])
      assert.ok(pod.includes(`has(object.spec.${list})`), list);
    assert.equal(mayRunBr("object.spec").includes("ephemeralContainers"), false);
  });

  it("balances its parentheses", () => {
    for (const expression of [
      mayRunBr("object.spec", true),
      mayRunBr("object.spec.template.spec"),
    ]) {
      let depth = 0;
      for (const char of expression.replace(/'[^']*'/g, "")) {
        if (char === "(") depth++;
        if (char === ")") depth--;
        assert.ok(depth >= 0);
      }
      assert.equal(depth, 0);
    }
  });
});
