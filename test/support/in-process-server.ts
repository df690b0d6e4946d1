/**
 * The webhook's HTTPS server started in this process, for integration tests: loopback, a
 * free port, generated certificates, the default configuration, the example cluster state,
 * silent logs; a test overrides only what it is about.
 */
import assert from "node:assert/strict";
import { defaultConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/log.js";
import { Metrics } from "../../src/metrics.js";
import { generatedCertificates } from "../../src/server/certificate-source.js";
import { type RunningServer, type ServeOptions, serve } from "../../src/server/serve.js";
import { exampleCluster } from "./fixtures.js";

export async function startInProcessServer(
  overrides: Partial<ServeOptions> = {},
): Promise<RunningServer> {
  const started = await serve({
    host: "127.0.0.1",
    port: 0,
    certificates: generatedCertificates(["localhost"]),
    maxBodyBytes: 1024 * 1024,
    config: defaultConfig,
    view: exampleCluster,
    logger: createLogger("silent"),
    metrics: new Metrics(),
    ...overrides,
  });
  assert.ok(started.ok, started.ok ? "" : started.reason);
  return started.running;
}
