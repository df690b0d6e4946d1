import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { get } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "./fixtures.js";
import { post } from "./https-client.js";
import { IMAGE_ENV, IMAGE_NODE_FLAGS } from "./image-runtime.js";
import { poll } from "./until.js";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export interface ServeProcess {
  readonly port: number;
  readonly ca: string;
  readonly process: ChildProcess;
  readonly logFile: string;
  /** The plain-HTTP port of the probes and metrics, when started with --metrics-port. */
  readonly metricsPort: number | undefined;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** GET over plain HTTP on 127.0.0.1 (the probe and metrics port). */
export function httpGet(port: number, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
      );
    }).on("error", reject);
  });
}

/**
 * The image's node flags this node knows: `make test` falls back to the machine's Node.js when
 * the image's cannot be fetched, and 20 has no --max-old-space-size-percentage.
 */
function shippedFlagsKnownHere(): string[] {
  return IMAGE_NODE_FLAGS.filter((flag) =>
    process.allowedNodeEnvironmentFlags.has(flag.split("=")[0] as string),
  );
}

/**
 * Runs `nebula-br-webhook serve` as its own process, as a user would, and waits until it
 * answers on its port (`/healthz`; with `waitReady`, `/readyz`), or on its --metrics-port
 * when given one (with --client-ca, the HTTPS port wants a client certificate).
 */
export async function startServeProcess(
  args: readonly string[],
  options: {
    port?: number;
    logDir?: string;
    waitReady?: boolean;
    /** Run as the image runs it (image-runtime.ts): for memory held to the pod's limit. */
    asShipped?: boolean;
  } = {},
): Promise<ServeProcess> {
  const port = options.port ?? (await freePort());
  const dir = options.logDir ?? (await mkdtemp(join(tmpdir(), "nbw-serve-")));
  const caFile = join(dir, `ca-${port}.pem`);
  const logFile = join(dir, `webhook-${port}-${Date.now()}.log`);
  const log = createWriteStream(logFile);
  const child = spawn(
    process.execPath,
    [
      ...(options.asShipped ? shippedFlagsKnownHere() : []),
      "dist/src/cli.js",
      "serve",
      "--port",
      String(port),
      "--ca-out",
      caFile,
      ...args,
    ],
    {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: options.asShipped ? { ...process.env, ...IMAGE_ENV } : process.env,
    },
  );
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  const probe = options.waitReady === false ? "/healthz" : "/readyz";
  const metricsFlag = args.indexOf("--metrics-port");
  const metricsPort = metricsFlag >= 0 ? Number(args[metricsFlag + 1]) : undefined;
  const ca = await poll(
    async () => {
      if (child.exitCode !== null)
        throw new Error(`webhook exited with ${child.exitCode}; see ${logFile}`);
      try {
        const written = readFileSync(caFile, "utf8");
        const answer =
          metricsPort === undefined
            ? await post(port, written, probe, undefined, { method: "GET" })
            : await httpGet(metricsPort, probe);
        return answer.status === 200 ? written : undefined;
      } catch {
        return undefined; // not listening yet
      }
    },
    // A minute: the 300 tries this replaced took 30 s and more, a request each, under load.
    { timeoutMs: 60_000, everyMs: 100 },
  );
  if (ca !== undefined)
    return {
      port,
      ca,
      metricsPort,
      process: child,
      logFile,
      exited,
      async stop() {
        if (child.exitCode === null) child.kill("SIGTERM");
        await exited;
      },
    };
  child.kill("SIGKILL");
  throw new Error(`webhook did not answer ${probe}; see ${logFile}`);
}
