import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rename, writeFile } from "node:fs/promises";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parseConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/log.js";
import { fileCertificates } from "../../src/server/certificate-source.js";
import { generateCa, issueServingCertificate } from "../../src/server/certificates.js";
import { capturedLogs } from "../support/captured-logs.js";
import { example } from "../support/fixtures.js";
import { admissionReview, post } from "../support/https-client.js";
import { startInProcessServer } from "../support/in-process-server.js";
import { freePort, startServeProcess } from "../support/serve-process.js";
import { servedSerial } from "../support/tls.js";
import { poll } from "../support/until.js";

/** One admission over a given agent; resolves true on a well-formed answer. */
function admitOnce(port: number, ca: string, agent: Agent | false, body: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/validate",
        method: "POST",
        ca,
        agent,
        headers: { "content-type": "application/json" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          try {
            resolve(
              res.statusCode === 200 &&
                typeof JSON.parse(Buffer.concat(chunks).toString()).response.allowed === "boolean",
            );
          } catch {
            resolve(false);
          }
        });
      },
    );
    req.on("error", () => resolve(false));
    req.end(body);
  });
}

describe("certificate rotation under load", () => {
  it("serves every request while the certificate files are replaced; new handshakes get the new certificate", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "nbw-rotate-"));
    const ca = generateCa(30);
    const first = issueServingCertificate(ca, ["localhost"], ["127.0.0.1"], 30).serving;
    await writeFile(join(dir, "tls.crt"), first.cert);
    await writeFile(join(dir, "tls.key"), first.key);
    const logger = createLogger("silent");
    const config = parseConfig({});
    assert.ok(config.ok);
    const running = await startInProcessServer({
      certificates: fileCertificates(join(dir, "tls.crt"), join(dir, "tls.key"), logger),
      config: config.config,
      logger,
    });
    const started = { running };
    const { port } = started.running;
    const before = await servedSerial(port, ca.cert);
    const body = JSON.stringify(admissionReview(example("backup-job.yaml")));
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 4 });
    let ok = 0;
    let failed = 0;
    const until = Date.now() + 3000;
    // Four workers on kept-alive connections, two opening a new TLS connection per request.
    const worker = async (agent: Agent | false) => {
      while (Date.now() < until) {
        if (await admitOnce(port, ca.cert, agent, body)) ok++;
        else failed++;
      }
    };
    const load = Promise.all(
      [...Array(4)].map(() => worker(keepAlive)).concat([worker(false), worker(false)]),
    );
    await sleep(1000);
    const second = issueServingCertificate(ca, ["localhost"], ["127.0.0.1"], 30).serving;
    await writeFile(join(dir, "tls.key.new"), second.key);
    await writeFile(join(dir, "tls.crt.new"), second.cert);
    await rename(join(dir, "tls.key.new"), join(dir, "tls.key"));
    await rename(join(dir, "tls.crt.new"), join(dir, "tls.crt"));
    await load;
    keepAlive.destroy();
    // The files are polled every second: on a loaded machine the reload may land a little late.
    const after = await poll(
      async () => {
        const serial = await servedSerial(port, ca.cert);
        return serial === before ? undefined : serial;
      },
      { timeoutMs: 5000, everyMs: 200 },
    );
    await started.running.close(1000);
    t.diagnostic(`${ok + failed} requests during rotation, ${failed} failed`);
    assert.equal(failed, 0, `${failed} of ${ok + failed} requests failed during rotation`);
    assert.ok(ok > 100, `only ${ok} requests were made`);
    assert.notEqual(after ?? before, before, "a new handshake is given the new certificate");
  });
});

describe("graceful shutdown", () => {
  it("on SIGTERM: readiness goes false, the in-flight request is answered, and the process exits within its bound", async (t) => {
    const webhook = await startServeProcess([
      "--cluster-state",
      "examples/cluster-state.yaml",
      "--shutdown-delay",
      "1",
      "--shutdown-grace",
      "5",
    ]);
    const body = JSON.stringify(admissionReview(example("restore-accepted.yaml")));
    // An in-flight request: headers and half the body now, the rest after SIGTERM.
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: webhook.port,
          path: "/validate",
          method: "POST",
          ca: webhook.ca,
          agent: false,
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = "";
          res.on("data", (c: Buffer) => {
            text += c.toString();
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on("error", reject);
      req.write(body.slice(0, body.length / 2));
      setTimeout(() => req.end(body.slice(body.length / 2)), 600);
    });
    await sleep(100);
    const signalled = Date.now();
    webhook.process.kill("SIGTERM");
    await sleep(100);
    const ready = await post(webhook.port, webhook.ca, "/readyz", undefined, { method: "GET" });
    assert.equal(ready.status, 503, "not ready once SIGTERM arrived");
    const finished = await answer;
    assert.equal(finished.status, 200, finished.text);
    assert.equal(
      JSON.parse(finished.text).response.allowed,
      true,
      "the in-flight request got its real answer",
    );
    const code = await webhook.exited;
    const took = Date.now() - signalled;
    t.diagnostic(`exited with ${code} ${took} ms after SIGTERM`);
    assert.equal(code, 0);
    assert.ok(took < 1000 + 5000, `exited ${took} ms after SIGTERM (delay 1 s + grace 5 s)`);
  });
});

/**
 * Whether a TCP connection to `port` is taken, asked from another process while this one is
 * held (as start-up work holds it): the kernel accepts connections on a listening port even
 * when its process is busy.
 */
function portTakesConnections(port: number): boolean {
  const probe = `require("node:net").connect(${port}, "127.0.0.1")
    .on("connect", () => process.exit(0)).on("error", () => process.exit(1));`;
  return spawnSync(process.execPath, ["-e", probe], { timeout: 10_000 }).status === 0;
}

describe("start-up", () => {
  it("runs its work that holds the process once the certificate is ready and before the port opens", async () => {
    const port = await freePort();
    const { logger, lines } = capturedLogs("info");
    const said = () => lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
    let duringTheWork: { said: string[]; portOpen: boolean } | undefined;
    const webhook = await startInProcessServer({
      port,
      logger,
      beforeListening: () => {
        duringTheWork = { said: said(), portOpen: portTakesConnections(port) };
      },
    });
    try {
      assert.deepEqual(duringTheWork, { said: ["serving certificate ready"], portOpen: false });
      assert.equal(said()[1], "serving admission webhooks");
      assert.ok(portTakesConnections(port), "the probe connects once the port is open");
      const ready = await post(port, webhook.caPem as string, "/readyz", undefined, {
        method: "GET",
      });
      assert.equal(ready.status, 200, "nothing is left to wait for once the port is open");
    } finally {
      await webhook.close(0, 0);
    }
  });
});
