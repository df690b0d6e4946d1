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
  /** SIGTERM unless it has exited; resolves with the exit code. */
  stop(): Promise<number | null>;
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
  const probe = options.waitReady === false ? "/healthz" : "/readyz";
  const metricsFlag = args.indexOf("--metrics-port");
  const metricsPort = metricsFlag >= 0 ? Number(args[metricsFlag + 1]) : undefined;
  const started = await answering(child, {
    name: "webhook",
    logFile,
    caFile,
    probe,
    ask: (ca) =>
      metricsPort === undefined
        ? post(port, ca, probe, undefined, { method: "GET" })
        : httpGet(metricsPort, probe),
  });
  return { port, metricsPort, process: child, logFile, ...started };
}

/**
 * A webhook process just spawned (from dist/ or from the image), its output written to
 * `logFile`, once it has written its CA to `caFile` and `ask` gets a 200 for `probe`; its
 * CA, exit and stop. Fails at once when it exits first, and kills it when it does not answer
 * within a minute (the 300 tries this replaced took 30 s and more, a request each, under load).
 */
export async function answering(
  child: ChildProcess,
  options: {
    name: string;
    logFile: string;
    caFile: string;
    probe: string;
    ask: (ca: string) => Promise<{ status: number }>;
  },
): Promise<{ ca: string; exited: Promise<number | null>; stop(): Promise<number | null> }> {
  const { name, logFile } = options;
  const log = createWriteStream(logFile);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  const ca = await poll(
    async () => {
      if (child.exitCode !== null)
        throw new Error(`${name} exited with ${child.exitCode}; see ${logFile}`);
      try {
        const written = readFileSync(options.caFile, "utf8");
        return (await options.ask(written)).status === 200 ? written : undefined;
      } catch {
        return undefined; // not listening yet
      }
    },
    { timeoutMs: 60_000, everyMs: 100 },
  );
  if (ca === undefined) {
    child.kill("SIGKILL");
    throw new Error(`${name} did not answer ${options.probe}; see ${logFile}`);
  }
  return {
    ca,
    exited,
    stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}
