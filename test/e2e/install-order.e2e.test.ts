/**
 * The install as a platform team runs it, against the real API server, which has no kubelet:
 * the Deployment's pods never start, exactly as when the image cannot be pulled yet. The
 * install must block nothing until a replica can answer; once one runs (here as a process,
 * with the install's ServiceAccount and RBAC) it registers the webhooks within seconds and
 * keeps them; an uninstall leaves no webhook configuration behind, and nothing brings one
 * back. And the kustomize base stays right under a namespace override.
 */
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import type { KubeObject } from "../../src/kube/objects.js";
import { example, REPO_ROOT, withFields } from "../support/fixtures.js";
import { startServeProcess } from "../support/serve-process.js";
import {
  type ControlPlane,
  eventually,
  freePort,
  type KubectlResult,
  kubectl,
  kubectlOk,
  serviceAccountKubeconfig,
  startClusterWithFixtures,
  stopControlPlane,
  type Webhook,
} from "./harness.js";

const NAMESPACE = "nebula-br-webhook";
const CONFIGURATION = "nebula-br-webhook";
const KINDS = ["validatingwebhookconfiguration", "mutatingwebhookconfiguration"];

let plane: ControlPlane;
const webhooks: Webhook[] = [];

before(async () => {
  // The restores here have the 1.4-1.7 shape (spec.br): restore-denied.yaml breaks rules.
  plane = await startClusterWithFixtures({ generation: "v1.4-1.7" });
});

after(async () => {
  for (const webhook of webhooks) await webhook.stop();
  stopControlPlane(plane);
});

const apply = (object: KubeObject): KubectlResult =>
  kubectl(plane, ["apply", "-f", "-"], JSON.stringify(object));
/** A br-ent Job aimed at nebula-nobr, which does not enable BR: the webhook denies it. */
const brJobAtClusterWithoutBr = (name: string) =>
  withFields(example("backup-job-denied.yaml"), { "metadata.name": name });
const brokenRestore = (name: string) =>
  withFields(example("restore-denied.yaml"), { "metadata.name": name });

/** The webhooks registered in each configuration, or undefined where there is none. */
function registered(): Record<string, { name: string }[] | undefined> {
  const result: Record<string, { name: string }[] | undefined> = {};
  for (const kind of KINDS) {
    const got = kubectl(plane, ["get", kind, CONFIGURATION, "-o", "json"]);
    result[kind] = got.status === 0 ? (JSON.parse(got.stdout).webhooks ?? []) : undefined;
  }
  return result;
}

/** Runs `serve` as the webhook's pods would, registering webhooks that call it on 127.0.0.1. */
async function startRegisteringWebhook(kubeconfig: string, extra: string[] = []): Promise<Webhook> {
  const port = await freePort();
  const webhook = await startServeProcess(
    [
      "--kubeconfig",
      kubeconfig,
      "--register-webhooks",
      "--webhook-configuration",
      CONFIGURATION,
      "--webhook-url",
      `https://127.0.0.1:${port}`,
      "--webhook-check-interval",
      "1",
      ...extra,
    ],
    { port, logDir: join(plane.dir, "logs") },
  );
  webhooks.push(webhook);
  return webhook;
}

describe("an install that never locks a cluster", () => {
  let replica: Webhook;

  it("kubectl apply -k manifests/base, no replica running: nothing is refused", () => {
    kubectlOk(plane, ["apply", "-k", "manifests/base"]);
    const deployment = JSON.parse(
      kubectlOk(plane, ["-n", NAMESPACE, "get", "deployment", "nebula-br-webhook", "-o", "json"]),
    );
    assert.equal(deployment.status?.readyReplicas ?? 0, 0, "no replica can run here");
    assert.deepEqual(registered(), {
      validatingwebhookconfiguration: [],
      mutatingwebhookconfiguration: [],
    });

    const job = apply(brJobAtClusterWithoutBr("before-ready"));
    assert.equal(job.status, 0, `a br-ent Job before any replica is ready: ${job.stderr}`);
    const restore = apply(brokenRestore("before-ready"));
    assert.equal(
      restore.status,
      0,
      `a NebulaRestore before any replica is ready: ${restore.stderr}`,
    );
  });

  it("a replica that can answer registers the webhooks, and enforcement begins within seconds", async () => {
    // As the Deployment runs it: the install's ServiceAccount, its RBAC, self-managed TLS.
    const kubeconfig = await serviceAccountKubeconfig(plane, NAMESPACE, "nebula-br-webhook");
    const started = Date.now();
    replica = await startRegisteringWebhook(kubeconfig, [
      "--tls-secret",
      "nebula-br-webhook-tls",
      "--service-namespace",
      NAMESPACE,
    ]);
    let denied: KubectlResult | undefined;
    const enforced = await eventually(() => {
      denied = apply(brJobAtClusterWithoutBr(`after-ready-${Date.now()}`));
      return denied.status !== 0;
    }, 15_000);
    assert.ok(enforced, `the Job was still admitted 15 s after start; see ${replica.logFile}`);
    assert.match(denied?.stderr ?? "", /\[backup-job-target-cluster\]/);
    const seconds = (Date.now() - started) / 1000;
    assert.ok(seconds < 15, `enforcement began ${seconds} s after start`);

    const restore = apply(brokenRestore("after-ready"));
    assert.notEqual(restore.status, 0);
    assert.match(restore.stderr, /\[restore-region\]/);

    const validating = JSON.parse(
      kubectlOk(plane, [
        "get",
        KINDS[0] as string,
        CONFIGURATION,
        "-o",
        "json",
        "--show-managed-fields",
      ]),
    );
    assert.equal(validating.webhooks.length, 9);
    assert.ok(
      validating.metadata.managedFields.some(
        (entry: { manager: string; operation: string }) =>
          entry.manager === "nebula-br-webhook" && entry.operation === "Apply",
      ),
      "written by server-side apply, field manager nebula-br-webhook",
    );
    const secret = JSON.parse(
      kubectlOk(plane, ["-n", NAMESPACE, "get", "secret", "nebula-br-webhook-tls", "-o", "json"]),
    );
    assert.equal(validating.webhooks[0].clientConfig.caBundle, secret.data["ca.crt"]);
    assert.deepEqual(validating.webhooks[0].namespaceSelector.matchExpressions[0].values, [
      "kube-system",
      NAMESPACE,
    ]);

    // Checked every second from now on, and found as written: no write while nothing drifts.
    const generation = () =>
      KINDS.map((kind) =>
        kubectlOk(plane, ["get", kind, CONFIGURATION, "-o", "jsonpath={.metadata.generation}"]),
      ).join();
    const before = generation();
    await sleep(3_000);
    assert.equal(generation(), before);
  });

  it("webhooks reset to [] are registered again", async () => {
    for (const kind of KINDS)
      kubectlOk(plane, ["patch", kind, CONFIGURATION, "--type", "merge", "-p", '{"webhooks":[]}']);
    const restored = await eventually(() => {
      const now = registered();
      return (
        now.validatingwebhookconfiguration?.length === 9 &&
        now.mutatingwebhookconfiguration?.length === 4
      );
    }, 10_000);
    assert.ok(restored, `not registered again; see ${replica.logFile}`);
    const job = apply(brJobAtClusterWithoutBr(`after-reset-${Date.now()}`));
    assert.notEqual(job.status, 0);
  });

  it("kubectl delete -k manifests/base leaves no webhook configuration, and nothing brings one back", async () => {
    // No namespace controller runs here, so the namespace stays Terminating: do not wait.
    kubectlOk(plane, ["delete", "-k", "manifests/base", "--wait=false"]);
    assert.deepEqual(registered(), {
      validatingwebhookconfiguration: undefined,
      mutatingwebhookconfiguration: undefined,
    });
    const job = apply(brJobAtClusterWithoutBr("after-uninstall"));
    assert.equal(job.status, 0, `a br-ent Job after the uninstall: ${job.stderr}`);

    // The replica still runs (its pod outlives the objects for a while), and one with every
    // right starts after the uninstall: neither creates a configuration.
    await startRegisteringWebhook(plane.kubeconfig, ["--audit-interval", "0"]);
    await sleep(3_000);
    assert.deepEqual(registered(), {
      validatingwebhookconfiguration: undefined,
      mutatingwebhookconfiguration: undefined,
    });
    const again = apply(brJobAtClusterWithoutBr("after-uninstall-2"));
    assert.equal(again.status, 0, again.stderr);
  });
});

/** Every place in `value` that names `namespace` as a namespace, by path. */
function namespaceReferences(value: unknown, namespace: string, path = ""): string[] {
  if (typeof value === "string") {
    const asNamespace = value.includes(`.${namespace}.svc`) || value.startsWith(`${namespace}/`);
    return asNamespace ? [path] : [];
  }
  if (Array.isArray(value))
    return value.flatMap((item, i) => namespaceReferences(item, namespace, `${path}[${i}]`));
  if (value && typeof value === "object")
    return Object.entries(value).flatMap(([key, item]) =>
      (key === "namespace" || key === "values") &&
      (item === namespace || (Array.isArray(item) && item.includes(namespace)))
        ? [`${path}.${key}`]
        : namespaceReferences(item, namespace, `${path}.${key}`),
    );
  return [];
}

/** An overlay in a temporary directory that installs `base` into namespace br-guard. */
async function overlay(base: string, transformers: string[] = []): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "nbw-overlay-"));
  const from = (path: string) => relative(dir, join(REPO_ROOT, path));
  await writeFile(
    join(dir, "kustomization.yaml"),
    [
      "apiVersion: kustomize.config.k8s.io/v1beta1",
      "kind: Kustomization",
      "namespace: br-guard",
      `resources: [${from(base)}]`,
      ...(transformers.length > 0 ? [`transformers: [${transformers.map(from).join(", ")}]`] : []),
      "",
    ].join("\n"),
  );
  return dir;
}

function render(dir: string): Record<string, unknown>[] {
  return parseAllDocuments(kubectlOk(plane, ["kustomize", dir])).map(
    (document) => document.toJS() as Record<string, unknown>,
  );
}

describe("kustomize under a namespace override", () => {
  before(() => {
    kubectlOk(plane, ["create", "namespace", "br-guard"]);
    kubectlOk(plane, ["apply", "-f", "test/e2e/crds/stand-ins/"]);
    kubectlOk(plane, ["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
  });

  it("the base, with namespace br-guard, names nebula-br-webhook nowhere as a namespace, and the API server accepts it", async () => {
    const dir = await overlay("manifests/base");
    const objects = render(dir);
    const stale = objects.flatMap((object) =>
      namespaceReferences(object, NAMESPACE).map(
        (path) => `${object.kind}/${(object.metadata as { name: string }).name}${path}`,
      ),
    );
    assert.deepEqual(stale, []);
    for (const object of objects) {
      const metadata = object.metadata as { name: string; namespace?: string };
      if (object.kind === "Namespace") assert.equal(metadata.name, "br-guard");
      else if (
        !/^(ClusterRole|ClusterRoleBinding|.*WebhookConfiguration)$/.test(String(object.kind))
      )
        assert.equal(metadata.namespace, "br-guard", `${object.kind}/${metadata.name}`);
      const subjects = (object.subjects ?? []) as { namespace?: string }[];
      for (const subject of subjects) assert.equal(subject.namespace, "br-guard");
    }
    const configMap = objects.find((o) => o.kind === "ConfigMap") as {
      data: Record<string, string>;
    };
    const config = parseYaml(configMap.data["config.yaml"] as string);
    assert.deepEqual(config.exemptNamespaces, ["kube-system"], "the webhook adds its own");

    const result = kubectl(plane, ["apply", "--dry-run=server", "-k", dir]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /deployment.apps\/nebula-br-webhook created \(server dry run\)/);
  });

  it("the cert-manager overlay too, with its namespace-references transformer", async () => {
    const dir = await overlay("manifests/overlays/cert-manager", [
      "manifests/overlays/cert-manager/namespace-references",
    ]);
    const objects = render(dir);
    const stale = objects.flatMap((object) =>
      namespaceReferences(object, NAMESPACE).map(
        (path) => `${object.kind}/${(object.metadata as { name: string }).name}${path}`,
      ),
    );
    assert.deepEqual(stale, []);
    const certificate = objects.find((o) => o.kind === "Certificate") as {
      spec: { dnsNames: string[] };
    };
    assert.deepEqual(certificate.spec.dnsNames, [
      "nebula-br-webhook.br-guard.svc",
      "nebula-br-webhook.br-guard.svc.cluster.local",
    ]);
    const result = kubectl(plane, ["apply", "--dry-run=server", "-k", dir]);
    assert.equal(result.status, 0, result.stderr);
  });
});

describe("behind a Service", () => {
  it("registers only once the Service has a ready endpoint, and points the webhooks at it", async () => {
    // The replicas above would fill in configurations installed again: this one alone runs.
    for (const running of webhooks.splice(0)) await running.stop();
    kubectlOk(plane, ["create", "namespace", "br-svc"]);
    kubectlOk(plane, ["apply", "-f", "manifests/base/webhooks.yaml"]);
    // No --webhook-url: the API server is to call the Service br-svc/nebula-br-webhook.
    const webhook = await startServeProcess(
      [
        "--kubeconfig",
        plane.kubeconfig,
        "--register-webhooks",
        "--webhook-configuration",
        CONFIGURATION,
        "--service-namespace",
        "br-svc",
        "--webhook-check-interval",
        "1",
        "--audit-interval",
        "0",
      ],
      { logDir: join(plane.dir, "logs") },
    );
    webhooks.push(webhook);
    await sleep(2_500);
    assert.deepEqual(registered(), {
      validatingwebhookconfiguration: [],
      mutatingwebhookconfiguration: [],
    });

    // What the EndpointSlice controller writes once kubelet finds a replica ready.
    kubectlOk(
      plane,
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: {
          name: "nebula-br-webhook-abcde",
          namespace: "br-svc",
          labels: { "kubernetes.io/service-name": "nebula-br-webhook" },
        },
        addressType: "IPv4",
        ports: [{ name: "https", port: 8443, protocol: "TCP" }],
        endpoints: [{ addresses: ["10.0.0.10"], conditions: { ready: true } }],
      }),
    );
    const done = await eventually(() => registered().validatingwebhookconfiguration?.length === 9);
    assert.ok(done, `not registered; see ${webhook.logFile}`);
    const validating = JSON.parse(
      kubectlOk(plane, ["get", KINDS[0] as string, CONFIGURATION, "-o", "json"]),
    );
    assert.deepEqual(validating.webhooks[0].clientConfig.service, {
      name: "nebula-br-webhook",
      namespace: "br-svc",
      path: "/validate",
      port: 443,
    });
    assert.deepEqual(validating.webhooks[0].namespaceSelector.matchExpressions[0].values, [
      "kube-system",
      "br-svc",
    ]);
    // Nothing serves that Service here: take the webhooks away again.
    await webhook.stop();
    kubectlOk(plane, ["delete", "-f", "manifests/base/webhooks.yaml"]);
  });
});
