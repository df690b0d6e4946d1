import assert from "node:assert/strict";
import { mkdtemp, rename, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parseConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/log.js";
import { fileCertificates } from "../../src/server/certificate-source.js";
import { generateCertificates } from "../../src/server/certificates.js";
import type { RunningServer } from "../../src/server/serve.js";
import { startInProcessServer } from "../support/in-process-server.js";
import { servedSerial } from "../support/tls.js";
import { poll } from "../support/until.js";

describe("serving certificates from files", () => {
  let dir: string;
  let server: RunningServer;
  const first = generateCertificates(["localhost"], ["127.0.0.1"]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "nbw-tls-"));
    await writeFile(join(dir, "tls.crt"), first.serving.cert);
    await writeFile(join(dir, "tls.key"), first.serving.key);
    const config = parseConfig({});
    assert.ok(config.ok);
    const running = await startInProcessServer({
      certificates: fileCertificates(
        join(dir, "tls.crt"),
        join(dir, "tls.key"),
        createLogger("silent"),
      ),
      config: config.config,
    });
    const started = { running };
    server = started.running;
  });

  after(async () => {
    await server.close(1000);
  });

  let current = first;

  it("reloads a replaced certificate without a restart: new handshakes get the new one", async () => {
    const before = await servedSerial(server.port, first.ca.cert);
    const second = generateCertificates(["localhost"], ["127.0.0.1"]);
    // As kubelet does for a mounted Secret: write aside, then swap in.
    await writeFile(join(dir, "tls.key.new"), second.serving.key);
    await writeFile(join(dir, "tls.crt.new"), second.serving.cert);
    await rename(join(dir, "tls.key.new"), join(dir, "tls.key"));
    await rename(join(dir, "tls.crt.new"), join(dir, "tls.crt"));
    const after = await poll(
      async () => {
        const serial = await servedSerial(server.port, second.ca.cert).catch(() => before);
        return serial === before ? undefined : serial;
      },
      { timeoutMs: 10_000, everyMs: 100 },
    );
    assert.notEqual(after ?? before, before, "a new handshake is given the new certificate");
    current = second;
  });

  it("keeps the working certificate when the files become unusable", async () => {
    const before = await servedSerial(server.port, current.ca.cert);
    await writeFile(join(dir, "tls.crt"), "not a certificate");
    await sleep(1500);
    assert.equal(await servedSerial(server.port, current.ca.cert), before);
  });
});
