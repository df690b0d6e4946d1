/**
 * Mutual TLS end to end: kube-apiserver started with an admission configuration
 * (--admission-control-config-file) whose kubeconfig gives it a client certificate for the
 * webhook's host, and the webhook started with --client-ca: the API server admits through
 * it, anyone else is refused during the handshake.
 */
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { generateCa } from "../../src/server/certificates.js";
import { example, withFields } from "../support/fixtures.js";
import { admissionReview, post } from "../support/https-client.js";
import { httpGet } from "../support/serve-process.js";
import { handshake, issueClientCertificate } from "../support/tls.js";
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
let webhook: Webhook | undefined;
let stranger: Webhook | undefined;
let port: number;
let metricsPort: number;
let clientCaFile: string;

const b64 = (text: string) => Buffer.from(text).toString("base64");
const apply = (object: unknown) => kubectl(plane, ["apply", "-f", "-"], JSON.stringify(object));

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), "nbw-mtls-e2e-"));
  port = await freePort();
  metricsPort = await freePort();
  const clientCa = generateCa(1);
  const apiServerCert = issueClientCertificate(clientCa, "kube-apiserver");
  clientCaFile = join(dir, "client-ca.crt");
  await writeFile(clientCaFile, clientCa.cert);

  // The user entry is named after the webhook's host as the API server calls it: host:port of
  // clientConfig.url here; <service>.<namespace>.svc (with :port unless 443) for a Service.
  const kubeconfig = join(dir, "webhook-client.kubeconfig");
  await writeFile(
    kubeconfig,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      users: [
        {
          name: `127.0.0.1:${port}`,
          user: {
            "client-certificate-data": b64(apiServerCert.cert),
            "client-key-data": b64(apiServerCert.key),
          },
        },
      ],
    }),
  );
  const admissionConfig = join(dir, "admission.yaml");
  const plugin = (name: string) => ({
    name,
    configuration: {
      apiVersion: "apiserver.config.k8s.io/v1",
      kind: "WebhookAdmissionConfiguration",
      kubeConfigFile: kubeconfig,
    },
  });
  await writeFile(
    admissionConfig,
    stringify({
      apiVersion: "apiserver.config.k8s.io/v1",
      kind: "AdmissionConfiguration",
      plugins: [plugin("ValidatingAdmissionWebhook"), plugin("MutatingAdmissionWebhook")],
    }),
  );

  // control-plane.sh passes these to kube-apiserver; set only for this start.
  process.env.EXTRA_APISERVER_FLAGS = `--admission-control-config-file=${admissionConfig}`;
  try {
    plane = await startClusterWithFixtures({ generation: "v1.4-1.7" });
  } finally {
    delete process.env.EXTRA_APISERVER_FLAGS;
  }
  webhook = await startWebhook(
    plane,
    ["--client-ca", clientCaFile, "--metrics-port", String(metricsPort)],
    port,
  );
  kubectlOk(plane, ["apply", "-f", "-"], webhookConfigurations(port, webhook.ca));
});

after(async () => {
  await webhook?.stop();
  await stranger?.stop();
  stopControlPlane(plane);
});

describe("mutual TLS between the API server and the webhook", () => {
  it("the API server presents its certificate: a br-ent Job against a cluster without BR is denied with our message", () => {
    const applied = apply(example("backup-job-denied.yaml"));
    assert.notEqual(applied.status, 0);
    assert.match(applied.stderr, /admission webhook ".*nebula-br-webhook.io" denied the request/);
    assert.match(
      applied.stderr,
      /NebulaCluster "nebula-nobr" in namespace "nebula" does not set spec.enableBR: true/,
    );
  });

  it("and an accepted restore is admitted (and completed by /mutate)", () => {
    const applied = apply(example("restore-accepted.yaml"));
    assert.equal(applied.status, 0, applied.stderr);
    const stored = JSON.parse(
      kubectlOk(plane, ["-n", "nebula", "get", "nebularestore", "restore1", "-o", "json"]),
    );
    assert.equal(stored.spec.br.concurrency, 5);
  });

  it("a client without a certificate is refused during the handshake; probes and metrics answer on the plain port", async () => {
    const ca = (webhook as Webhook).ca;
    const result = await handshake(port, { ca });
    assert.equal(result.ok, false, JSON.stringify(result));
    await assert.rejects(
      post(port, ca, "/validate", admissionReview(example("restore-accepted.yaml"))),
      "a plain HTTPS client (like curl without --cert)",
    );
    assert.equal((await httpGet(metricsPort, "/readyz")).status, 200);
    assert.match(
      (await httpGet(metricsPort, "/metrics")).text,
      /nebula_br_webhook_admission_requests_total\{stage="validate",kind="batch\/Job"/,
      "the API server's calls were counted",
    );
  });

  it("a webhook whose client CA the API server has no certificate for gets no admission through (failurePolicy: Fail)", async (t) => {
    const otherPort = await freePort();
    stranger = await startWebhook(
      plane,
      ["--client-ca", clientCaFile, "--metrics-port", String(await freePort())],
      otherPort,
    );
    // No user entry names 127.0.0.1:<otherPort>: the API server calls it without a certificate.
    kubectlOk(plane, ["apply", "-f", "-"], webhookConfigurations(otherPort, stranger.ca));
    const applied = apply(
      withFields(example("restore-accepted.yaml"), { "metadata.name": "without-client-cert" }),
    );
    assert.notEqual(applied.status, 0);
    assert.match(applied.stderr, /failed calling webhook/);
    t.diagnostic(applied.stderr.trim());
  });
});
