import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parseConfig } from "../../src/config/config.js";
import type { CertificateSource } from "../../src/server/certificate-source.js";
import {
  type CertificatePair,
  generateCa,
  generateCertificates,
} from "../../src/server/certificates.js";
import type { RunningServer, serve } from "../../src/server/serve.js";
import { example, REPO_ROOT } from "../support/fixtures.js";
import { admissionReview } from "../support/https-client.js";
import { startInProcessServer } from "../support/in-process-server.js";
import { freePort, httpGet, startServeProcess } from "../support/serve-process.js";
import { handshake, issueClientCertificate, servedSerial } from "../support/tls.js";

const config = (() => {
  const parsed = parseConfig({});
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.config;
})();

/** Certificates the test renews by hand, to exercise the setSecureContext path. */
function renewableCertificates() {
  const first = generateCertificates(["localhost"], ["127.0.0.1"]);
  let renew: (pair: CertificatePair) => void = () => {};
  const source: CertificateSource = {
    describe: "renewed by the test",
    start: async () => ({ ok: true, pair: first.serving, caPem: first.ca.cert }),
    watch(onChange) {
      renew = onChange;
      return () => {};
    },
  };
  return { source, renew: (pair: CertificatePair) => renew(pair) };
}

async function start(extra: Partial<Parameters<typeof serve>[0]> = {}): Promise<RunningServer> {
  return startInProcessServer({ certificates: renewableCertificates().source, config, ...extra });
}

/** POST an AdmissionReview over HTTPS with these TLS client options. */
function admit(
  port: number,
  tls: { ca: string; cert?: string; key?: string },
  body: unknown,
): Promise<{ status: number; body: any }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/validate",
        method: "POST",
        servername: "localhost",
        agent: false,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(payload),
        },
        ...tls,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString()),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

describe("TLS: forward-secret suites only", () => {
  let server: RunningServer;
  let renewable: ReturnType<typeof renewableCertificates>;
  before(async () => {
    renewable = renewableCertificates();
    server = await start({ certificates: renewable.source });
  });
  after(() => server.close(1000));

  const expectations = async (ca: string) => {
    const ca12 = { ca, maxVersion: "TLSv1.2" as const };
    const staticRsa = await handshake(server.port, { ...ca12, ciphers: "AES128-GCM-SHA256" });
    assert.equal(staticRsa.ok, false, "TLS 1.2 with RSA key exchange (no forward secrecy)");
    const cbc = await handshake(server.port, { ...ca12, ciphers: "ECDHE-RSA-AES128-SHA" });
    assert.equal(cbc.ok, false, "TLS 1.2 ECDHE with CBC");
    const dhe = await handshake(server.port, { ...ca12, ciphers: "DHE-RSA-AES128-GCM-SHA256" });
    assert.equal(dhe.ok, false, "finite-field DHE is not offered either");
    const ecdhe = await handshake(server.port, { ...ca12, ciphers: "ECDHE-RSA-AES128-GCM-SHA256" });
    assert.deepEqual(ecdhe, {
      ok: true,
      protocol: "TLSv1.2",
      cipher: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    });
    const tls13 = await handshake(server.port, { ca });
    assert.ok(tls13.ok && tls13.protocol === "TLSv1.3", JSON.stringify(tls13));
    const tls11 = await handshake(server.port, {
      ca,
      minVersion: "TLSv1",
      maxVersion: "TLSv1.1",
      ciphers: "DEFAULT:@SECLEVEL=0",
    });
    assert.equal(tls11.ok, false, "TLS 1.1");
  };

  it("refuses a TLS 1.2 client that offers only RSA key exchange or CBC, and serves ECDHE and TLS 1.3", async () => {
    await expectations(server.caPem as string);
  });

  it("keeps to those suites after the serving certificate is renewed (setSecureContext)", async () => {
    const before = await servedSerial(server.port, server.caPem as string);
    const next = generateCertificates(["localhost"], ["127.0.0.1"]);
    renewable.renew(next.serving);
    assert.notEqual(await servedSerial(server.port, next.ca.cert), before, "renewed");
    await expectations(next.ca.cert);
  });
});

describe("mutual TLS (--client-ca)", () => {
  const clientCa = generateCa(1);
  const apiServer = issueClientCertificate(clientCa, "kube-apiserver");
  const stranger = issueClientCertificate(generateCa(1), "kube-apiserver");
  let server: RunningServer;
  let renewable: ReturnType<typeof renewableCertificates>;
  before(async () => {
    renewable = renewableCertificates();
    server = await start({
      certificates: renewable.source,
      clientCa: clientCa.cert,
      metricsPort: 0,
    });
  });
  after(() => server.close(1000));

  const review = () => admissionReview(example("restore-denied.yaml"));

  it("refuses a client without a certificate during the handshake", async () => {
    const ca = server.caPem as string;
    assert.equal((await handshake(server.port, { ca })).ok, false, "TLS 1.3");
    assert.equal(
      (await handshake(server.port, { ca, maxVersion: "TLSv1.2" })).ok,
      false,
      "TLS 1.2",
    );
    await assert.rejects(admit(server.port, { ca }, review()));
  });

  it("refuses a certificate from another CA", async () => {
    await assert.rejects(admit(server.port, { ca: server.caPem as string, ...stranger }, review()));
  });

  it("admits a client whose certificate the CA signed, and still after a certificate renewal", async () => {
    const answer = await admit(server.port, { ca: server.caPem as string, ...apiServer }, review());
    assert.equal(answer.status, 200);
    assert.equal(answer.body.response.allowed, false);
    assert.match(answer.body.response.status.message, /restore/);

    const next = generateCertificates(["localhost"], ["127.0.0.1"]);
    renewable.renew(next.serving);
    await sleep(10);
    assert.equal(
      (await handshake(server.port, { ca: next.ca.cert })).ok,
      false,
      "no cert, renewed",
    );
    const again = await admit(server.port, { ca: next.ca.cert, ...apiServer }, review());
    assert.equal(again.status, 200);
  });

  it("serves /healthz, /readyz and /metrics, and nothing else, over plain HTTP on --metrics-port", async () => {
    const port = server.metricsPort as number;
    assert.equal((await httpGet(port, "/healthz")).status, 200);
    assert.equal((await httpGet(port, "/readyz")).status, 200);
    assert.match(
      (await httpGet(port, "/metrics")).text,
      /nebula_br_webhook_admission_requests_total/,
    );
    assert.equal((await httpGet(port, "/validate")).status, 404);
  });
});

describe("serve --client-ca (the command)", () => {
  const clientCaForCommand = generateCa(1);

  it("needs --metrics-port, so that kubelet's probes can still be answered", () => {
    const run = spawnSync(
      process.execPath,
      ["dist/src/cli.js", "serve", "--port", "0", "--client-ca", "examples/cluster-state.yaml"],
      { cwd: REPO_ROOT, encoding: "utf8", timeout: 20_000 },
    );
    assert.equal(run.status, 2);
    assert.match(run.stderr, /--client-ca needs --metrics-port/);
  });

  it("refuses a file that holds no CA certificate", async () => {
    const run = spawnSync(
      process.execPath,
      [
        "dist/src/cli.js",
        "serve",
        "--port",
        "0",
        "--metrics-port",
        "0",
        "--client-ca",
        "examples/cluster-state.yaml",
      ],
      { cwd: REPO_ROOT, encoding: "utf8", timeout: 20_000 },
    );
    assert.equal(run.status, 2);
    assert.match(run.stderr, /cannot use --client-ca examples\/cluster-state.yaml/);
  });

  it("runs with mutual TLS: probes on the plain port, admissions only with a client certificate", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nbw-mtls-"));
    const caFile = join(dir, "client-ca.crt");
    await writeFile(caFile, clientCaForCommand.cert);
    const metricsPort = await freePort();
    const webhook = await startServeProcess([
      "--cluster-state",
      "examples/cluster-state.yaml",
      "--client-ca",
      caFile,
      "--metrics-port",
      String(metricsPort),
    ]);
    try {
      assert.equal((await httpGet(metricsPort, "/readyz")).status, 200);
      assert.equal((await handshake(webhook.port, { ca: webhook.ca })).ok, false);
      const answer = await admit(
        webhook.port,
        { ca: webhook.ca, ...issueClientCertificate(clientCaForCommand, "kube-apiserver") },
        admissionReview(example("restore-accepted.yaml")),
      );
      assert.equal(answer.body.response.allowed, true);
    } finally {
      await webhook.stop();
    }
  });
});
