/**
 * `make bench`: the webhook measured where users feel it, in one run, side by side.
 * - Throughput over real TLS with keep-alive on 127.0.0.1, the webhook on one core against a
 *   bare https baseline, for the fast path and every guarded kind, distinct objects per
 *   request, interleaved rounds (min / median / max).
 * - Latency at 1,000 req/s (open loop), lookups and admission cost in process, the cost of
 *   the per-admission log line, memory at rest, and a soak.
 * - A real kube-apiserver holding 10,000 NebulaClusters as the operator stores them (≈7 KB
 *   each, with status), the webhook started on it three times: its sync time, peak and idle
 *   RSS, the longest /healthz stall while it syncs; then server-side dry-run creates through
 *   the API server with no policy, with a ValidatingAdmissionPolicy, with a do-nothing webhook
 *   (the floor), with the same server giving the webhook's own answers, and with the webhook,
 *   interleaved.
 * - The audit at scale (bench/audit-scale.ts): its own API server filled with 10,000, then
 *   BENCH_AUDIT_OBJECTS, br-ent backup Jobs; after each step `audit -A -o json` and `audit -A`
 *   run as a user runs them (wall time, LIST pages, verdicts, peak RSS and heap), then serve's
 *   background audit (time, PolicyReports, peak RSS); and how long creating took.
 * Writes bench/results.json and bench/README.md, with the before/after tables against
 * bench/before.json when that file exists.
 *
 * Environment: BENCH_SECONDS (5 per load run), BENCH_ROUNDS (3), BENCH_SOAK_SECONDS (120),
 * BENCH_API_ROUNDS (5), BENCH_API_PER_ROUND (200), BENCH_API_IDLE_SAMPLES (8) creates per object and
 * admission each after BENCH_API_IDLE_GAP_MS (7000) of quiet, BENCH_LIVE_CLUSTERS (10000),
 * BENCH_IDLE_SECONDS (60), BENCH_LIVE_STARTS (3: starts of the webhook on them, one after another);
 * BENCH_AUDIT_OBJECTS (100000: guarded Jobs the audit reads; creating
 * them takes minutes, and etcd holds about 0.5 GiB of its 2 GiB quota);
 * BENCH_ONLY=audit or BENCH_ONLY=live: only the audit section, or only the live view and the
 * comparison through the API server, written into bench/results.json and README.md (for
 * trying a change; the figures of record come from a whole run);
 * BENCH_WEBHOOK_NODE_FLAGS: more node flags for the webhook (e.g. --trace-gc, to look into a change);
 * BENCH_WEBHOOK_ROOT: the checkout whose dist/ is the webhook under test (this one);
 * BENCH_OUT=before: write bench/before.json only (the figures of an older build);
 * BENCH_REPORT_ONLY=1: only write bench/README.md again from bench/results.json.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { Agent, request } from "node:https";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { KubeConfig } from "@kubernetes/client-node";
import autocannon from "autocannon";
import { type Admission, admit } from "../src/admission/admit.js";
import { decodeReview } from "../src/admission/review.js";
import { StaticClusterView } from "../src/cluster-view/static-view.js";
import { defaultConfig } from "../src/config/config.js";
import { closeApiConnections } from "../src/kube/api-client.js";
import { parseManifests } from "../src/kube/manifests.js";
import type { KubeObject } from "../src/kube/objects.js";
import { createLogger, unredacted } from "../src/log.js";
import { logAdmission } from "../src/server/admission-log.js";
import { generateCertificates } from "../src/server/certificates.js";
import { installCrds, startControlPlane, stopControlPlane } from "../test/e2e/harness.js";
import { REPO_ROOT } from "../test/support/fixtures.js";
import { post } from "../test/support/https-client.js";
import { apiCallsMade, processCpuMs, processMemoryKiB } from "../test/support/measure.js";
import { freePort } from "../test/support/serve-process.js";
import { auditScale } from "./audit-scale.js";
import { brEnabledCluster, largeClusterState } from "./cluster-state.js";
import { constantRate, type RateResult } from "./constant-rate.js";
import { IMAGE_ENV, IMAGE_NODE_FLAGS } from "./image-runtime.js";
import { fillWithClusters } from "./live-clusters.js";
import { operatorClusterWithStatus } from "./operator-objects.js";
import { type IdleFigures, type Results, report } from "./report.js";
import {
  brWorkload,
  distinct,
  GUARDED_WORKLOAD_KINDS,
  restore,
  reviewBody,
  targetOf,
  unrelatedJob,
} from "./requests.js";
import {
  answerVariantObjects,
  type Comparison,
  compare,
  IDLE_VARIANTS,
  OBJECTS,
  prepare,
  VARIANTS,
} from "./through-api-server.js";
import { webhookAnswers } from "./webhook-answers.js";
import { ANSWER_SECONDS, GC_SECONDS, talliesOf } from "./webhook-histograms.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SOAK_SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 120);
const API_ROUNDS = Number(process.env.BENCH_API_ROUNDS ?? 5);
const API_PER_ROUND = Number(process.env.BENCH_API_PER_ROUND ?? 200);
/** Creates per object and admission made one at a time after an idle gap, and the gap. */
const API_IDLE_SAMPLES = Number(process.env.BENCH_API_IDLE_SAMPLES ?? 8);
const API_IDLE_GAP_MS = Number(process.env.BENCH_API_IDLE_GAP_MS ?? 7000);
const LIVE_CLUSTERS = Number(process.env.BENCH_LIVE_CLUSTERS ?? 10_000);
/** How long the live webhook is left idle after its sync, RSS sampled every 5 s. */
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
/** Starts of the webhook on the live view, one after another, for the start-up figures. */
const LIVE_STARTS = Number(process.env.BENCH_LIVE_STARTS ?? 3);
const AUDIT_OBJECTS = Number(process.env.BENCH_AUDIT_OBJECTS ?? 100_000);
const WEBHOOK_ROOT = process.env.BENCH_WEBHOOK_ROOT ?? REPO_ROOT;
const WRITE_BEFORE = process.env.BENCH_OUT === "before";
const CLUSTERS = 10_000;
const NAMESPACES = 1_000;
const CONNECTIONS = 10;
/** Distinct objects per scenario: no two requests in a row carry the same object. */
const DISTINCT = 1_000;
const SERVER_CORE = "0";
const RECONNECT_EVERY = 900;

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

export interface Load {
  requestsPerSecond: number;
  /** CPU time (user + system, all threads) the server spent per request answered. */
  cpuUsPerRequest?: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  non2xx: number;
  requests: number;
}

interface Server {
  readonly port: number;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

function procStatusMiB(pid: number | undefined, field: "VmRSS" | "VmHWM"): number {
  return Math.round((processMemoryKiB(pid as number, field) / 1024) * 10) / 10;
}
const rssMiB = (pid: number | undefined) => procStatusMiB(pid, "VmRSS");

/** Starts a server process pinned to one core; resolves when `ready` answers. */
async function startPinned(
  args: string[],
  port: number,
  ready: () => Promise<boolean>,
  logFile: string,
  cwd = REPO_ROOT,
): Promise<Server> {
  // Output straight to a file: a pipe into this process would load the load generator's core.
  const output = openSync(logFile, "w");
  const webhook = args[0]?.endsWith("cli.js") === true;
  const child = spawn(
    "taskset",
    ["-c", SERVER_CORE, process.execPath, ...(webhook ? IMAGE_NODE_FLAGS : []), ...args],
    {
      cwd,
      stdio: ["ignore", output, output],
      env: webhook ? { ...process.env, ...IMAGE_ENV } : process.env,
    },
  );
  closeSync(output);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  for (let i = 0; i < 1200; i++) {
    if (child.exitCode !== null) break;
    if (await ready().catch(() => false)) {
      return {
        port,
        child,
        async stop() {
          child.kill("SIGTERM");
          await exited;
        },
      };
    }
    await sleep(100);
  }
  child.kill("SIGKILL");
  throw new Error(
    `server ${args.join(" ")} did not start: ${readFileSync(logFile, "utf8").slice(-2000)}`,
  );
}

async function load(
  port: number,
  requests: { path: string; body: string }[],
  seconds: number,
  pid?: number,
): Promise<Load> {
  const cpuBefore = pid === undefined ? 0 : processCpuMs(pid) * 1000;
  const result = await autocannon({
    url: `https://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    // The webhook closes a connection after 1,000 requests (maxRequestsPerSocket), as API
    // servers honour; autocannon does not, and would count 503s: it reconnects first.
    reconnectRate: RECONNECT_EVERY,
    headers: { "content-type": "application/json" },
    requests: requests.map((r) => ({ method: "POST", path: r.path, body: r.body })),
  });
  const cpuSpent = pid === undefined ? undefined : processCpuMs(pid) * 1000 - cpuBefore;
  return {
    requestsPerSecond: Math.round(result.requests.average),
    ...(cpuSpent === undefined
      ? {}
      : { cpuUsPerRequest: Math.round(cpuSpent / Math.max(1, result.requests.total)) }),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    requests: result.requests.total,
  };
}

/** µs per call of `work`, over enough calls to be measurable. */
async function microseconds(
  calls: number,
  work: (i: number) => unknown | Promise<unknown>,
): Promise<number> {
  for (let i = 0; i < Math.min(calls, 1000); i++) await work(i);
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) await work(i);
  return Math.round(Number(process.hrtime.bigint() - started) / calls / 10) / 100;
}

const signal = new AbortController().signal;
const silent = createLogger("silent");

/** Decodes and admits a review body, as the endpoint does: a fresh object every call. */
async function admitBody(
  body: string,
  stage: "validate" | "mutate",
  view: StaticClusterView,
): Promise<Admission> {
  const decoded = decodeReview(JSON.parse(body));
  if (!decoded.ok) throw new Error(decoded.error.reason);
  return admit(decoded.request, stage, { view, config: defaultConfig, logger: silent }, signal);
}

async function inProcess(objects: KubeObject[]) {
  const bigView = new StaticClusterView(objects);
  const smallView = new StaticClusterView(objects.slice(0, 10));
  const names = objects.map((o) => [o.metadata?.namespace ?? "", o.metadata?.name ?? ""] as const);
  const jobs = (clusters: number) =>
    distinct(DISTINCT, "/mutate", (i) =>
      brWorkload("Job", i, targetOf(brEnabledCluster(i % clusters), NAMESPACES)),
    ).map((r) => r.body);
  const smallJobs = jobs(8);
  const bigJobs = jobs(8_000);
  let n = 0;
  const lookup = (view: StaticClusterView, count: number) =>
    microseconds(200_000, () => {
      const [ns, name] = names[n++ % count] as readonly [string, string];
      return view.nebulaCluster(ns, name);
    });
  return {
    lookupUs: {
      clusters10: await lookup(smallView, 10),
      clusters10000: await lookup(bigView, CLUSTERS),
    },
    admitBrJobUs: {
      clusters10: await microseconds(20_000, (i) =>
        admitBody(smallJobs[i % DISTINCT] as string, "mutate", smallView),
      ),
      clusters10000: await microseconds(20_000, (i) =>
        admitBody(bigJobs[i % DISTINCT] as string, "mutate", bigView),
      ),
      sameObjectAgain: await sameObjectAgain(bigJobs[0] as string, bigView),
    },
    logLine: await logLineCost(bigView, bigJobs),
  };
}

/**
 * What the bench measured before: one decoded object admitted again and again, its command
 * read once and then answered from the per-object cache.
 */
async function sameObjectAgain(body: string, view: StaticClusterView): Promise<number> {
  const decoded = decodeReview(JSON.parse(body));
  if (!decoded.ok) throw new Error(decoded.error.reason);
  const deps = { view, config: defaultConfig, logger: silent };
  return microseconds(20_000, () => admit(decoded.request, "mutate", deps, signal));
}

/**
 * The per-admission log line, before (pino's wildcard redaction on every line, guarded
 * admissions at info) and after (known-safe fields, no redaction; allowed at debug).
 */
async function logLineCost(view: StaticClusterView, jobs: string[]) {
  const sink = { write: (_line: string) => {} };
  const job = await admitBody(jobs[0] as string, "mutate", view);
  const deniedBody = reviewBody(restore(1, targetOf(1, NAMESPACES), ""), 1);
  const denied = await admitBody(deniedBody, "validate", view);
  const decoded = decodeReview(JSON.parse(jobs[0] as string));
  if (!decoded.ok) throw new Error(decoded.error.reason);
  const requestOf = decoded.request;
  const redacting = createLogger("debug", sink);
  const after = unredacted(createLogger("info", sink));
  const cost = (logger: typeof redacting, admission: Admission) =>
    microseconds(100_000, () => logAdmission(logger, "mutate", requestOf, admission, 0.42));
  return {
    allowedBeforeUs: await cost(redacting, job),
    allowedAfterUs: await cost(after, job),
    deniedBeforeUs: await cost(redacting, denied),
    deniedAfterUs: await cost(after, denied),
  };
}

async function heapUsedMiB(port: number, ca: string): Promise<number> {
  const text = (await post(port, ca, "/metrics", undefined, { method: "GET" })).text;
  const bytes = Number(
    text.match(/^nebula_br_webhook_nodejs_heap_size_used_bytes (\d+)/m)?.[1] ?? 0,
  );
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}

/**
 * GETs /healthz every 20 ms over one kept-alive connection until stopped; the longest answer
 * is the longest the event loop was held (plus this machine's noise: see the idle figure).
 */
function stallProbe(port: number, ca: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca });
  let longestMs = 0;
  let answered = 0;
  let stopped = false;
  const once = () =>
    new Promise<number | undefined>((resolve) => {
      const started = performance.now();
      const req = request(
        { host: "127.0.0.1", port, path: "/healthz", agent, servername: "localhost" },
        (res) => {
          res.resume();
          res.on("end", () => resolve(performance.now() - started));
        },
      );
      req.on("error", () => resolve(undefined));
      req.end();
    });
  const done = (async () => {
    while (!stopped) {
      const ms = await once();
      if (ms !== undefined) {
        answered++;
        longestMs = Math.max(longestMs, ms);
      }
      await sleep(20);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await done;
      agent.destroy();
      return { longestMs: Math.round(longestMs), probes: answered };
    },
  };
}

/** What one start of the webhook against the live API server's clusters showed. */
interface LiveStart {
  readonly syncSeconds: number;
  readonly healthzLongestDuringSyncMs: number;
  readonly healthzLongestIdleMs: number;
  readonly rssPeakMiB: number;
  readonly rssIdleMiB: number;
  readonly rssIdleSettledMiB: number;
  readonly rssIdleSamplesMiB: number[];
  readonly heapUsedMiB: number;
}

/**
 * Starts the webhook (start `n`) on the live view of `kubeconfig`'s API server and measures it
 * from start to ready, while syncing (/healthz every 20 ms), and left alone IDLE_SECONDS.
 */
async function startLive(
  dir: string,
  ca: string,
  webhookArgs: (port: number) => string[],
  kubeconfig: string,
  n: number,
): Promise<{ webhook: Server; port: number; figures: LiveStart }> {
  const port = await freePort();
  const syncStarted = Date.now();
  let probe: ReturnType<typeof stallProbe> | undefined;
  const webhook = await startPinned(
    [
      ...webhookArgs(port),
      "--kubeconfig",
      kubeconfig,
      "--audit-interval",
      "0",
      "--secret-timeout-ms",
      "2000",
    ],
    port,
    async () => {
      probe ??= stallProbe(port, ca);
      return (await post(port, ca, "/readyz", undefined, { method: "GET" })).status === 200;
    },
    join(dir, `live-${n}.log`),
    WEBHOOK_ROOT,
  );
  const syncSeconds = Math.round((Date.now() - syncStarted) / 100) / 10;
  await sleep(1000);
  const syncStall = await (probe as ReturnType<typeof stallProbe>).stop();
  const idleProbe = stallProbe(port, ca);
  await sleep(4000);
  const idleStall = await idleProbe.stop();
  const rssIdleSoon = rssMiB(webhook.child.pid);
  // Left alone: V8 gives the list's garbage back to the system only when its memory reducer
  // runs, some seconds to a minute after the heap stopped growing.
  const rssWhileIdle: number[] = [];
  for (let second = 5; second < IDLE_SECONDS; second += 5) {
    await sleep(5000);
    rssWhileIdle.push(rssMiB(webhook.child.pid));
  }
  const figures: LiveStart = {
    syncSeconds,
    healthzLongestDuringSyncMs: syncStall.longestMs,
    healthzLongestIdleMs: idleStall.longestMs,
    rssPeakMiB: procStatusMiB(webhook.child.pid, "VmHWM"),
    rssIdleMiB: rssIdleSoon,
    rssIdleSettledMiB: rssWhileIdle.at(-1) ?? rssIdleSoon,
    rssIdleSamplesMiB: [rssIdleSoon, ...rssWhileIdle],
    heapUsedMiB: await heapUsedMiB(port, ca),
  };
  return { webhook, port, figures };
}

/**
 * The figures the goals are judged on, over all starts: the worst start's (largest RSS,
 * longest /healthz answer, most heap), the median start's time to ready, and the RSS samples
 * of the last start (the one kept up).
 */
function worstStart(starts: readonly LiveStart[]) {
  const most = (pick: (s: LiveStart) => number) => Math.max(...starts.map(pick));
  return {
    syncSeconds: median(starts.map((s) => s.syncSeconds)),
    healthzLongestDuringSyncMs: most((s) => s.healthzLongestDuringSyncMs),
    healthzLongestIdleMs: most((s) => s.healthzLongestIdleMs),
    rssPeakMiB: most((s) => s.rssPeakMiB),
    rssIdleMiB: most((s) => s.rssIdleMiB),
    rssIdleSettledMiB: most((s) => s.rssIdleSettledMiB),
    rssIdleSamplesMiB: starts.at(-1)?.rssIdleSamplesMiB ?? [],
    heapUsedMiB: most((s) => s.heapUsedMiB),
  };
}

async function liveScale(dir: string, ca: string, webhookArgs: (port: number) => string[]) {
  const plane = await startControlPlane();
  const kubeConfig = new KubeConfig();
  try {
    installCrds(plane);
    kubeConfig.loadFromFile(plane.kubeconfig);
    log(`live: creating ${LIVE_CLUSTERS} operator-sized NebulaClusters with status`);
    const filled = await fillWithClusters(kubeConfig, LIVE_CLUSTERS, NAMESPACES);
    log(`live: created in ${filled.seconds} s, ${filled.storedBytes} bytes each as stored`);
    // Started LIVE_STARTS times against the same clusters, one after another: the start-up
    // figures per start (min / median / max); the last start stays up for what follows.
    const starts: LiveStart[] = [];
    let kept: { webhook: Server; port: number } | undefined;
    for (let n = 1; n <= LIVE_STARTS; n++) {
      const started = await startLive(dir, ca, webhookArgs, plane.kubeconfig, n);
      starts.push(started.figures);
      log(`live, start ${n} of ${LIVE_STARTS}: ${JSON.stringify(started.figures)}`);
      if (n < LIVE_STARTS) await started.webhook.stop();
      else kept = started;
    }
    const { webhook, port } = kept as { webhook: Server; port: number };
    const live = {
      clusters: LIVE_CLUSTERS,
      storedBytesPerCluster: filled.storedBytes,
      createSeconds: filled.seconds,
      starts,
      ...worstStart(starts),
    };

    // The floor: a do-nothing https server on the same core, behind the same configurations.
    const floorPort = await freePort();
    const floor = await startDoNothing(dir, ca, floorPort, "floor");
    const answerPort = await freePort();
    prepare(
      plane,
      { webhook: port, floor: floorPort, answer: answerPort },
      ca,
      (name, namespace) => ({
        ...operatorClusterWithStatus(1, NAMESPACES),
        metadata: { name, namespace },
      }),
    );
    await sleep(2000); // the API server picks up the webhook configurations and the policy
    // The webhook's own answers, asked of it now (untimed), for the same server to give back.
    const answers = await webhookAnswers(
      async (path, review) => (await post(port, ca, path, review)).body as object,
      answerVariantObjects(API_ROUNDS, API_PER_ROUND),
    );
    await writeFile(join(dir, "answers.json"), JSON.stringify(answers));
    const answering = await startDoNothing(
      dir,
      ca,
      answerPort,
      "answer",
      join(dir, "answers.json"),
    );
    log(
      `through the API server: ${API_ROUNDS} rounds of ${API_PER_ROUND} dry-run creates per object and variant`,
    );
    const comparison = await compare(
      plane,
      {
        webhook: webhook.child.pid as number,
        floor: floor.child.pid as number,
        answer: answering.child.pid as number,
      },
      port,
      API_ROUNDS,
      API_PER_ROUND,
      { samples: API_IDLE_SAMPLES, gapMs: API_IDLE_GAP_MS },
      async () => {
        const text = (await post(port, ca, "/metrics", undefined, { method: "GET" })).text;
        return {
          gc: talliesOf(text, GC_SECONDS, "kind"),
          answers: talliesOf(text, ANSWER_SECONDS, "stage"),
        };
      },
      log,
    );
    await floor.stop();
    await answering.stop();

    const callsBefore = await apiCallsMade(port, ca);
    const jobLoad = await load(
      port,
      distinct(DISTINCT, "/mutate", (i) =>
        brWorkload("Job", i, targetOf(brEnabledCluster(i), NAMESPACES)),
      ),
      SECONDS * 2,
    );
    const callsAfter = await apiCallsMade(port, ca);
    const rssAfterLoad = rssMiB(webhook.child.pid);
    const rssPeakOverall = procStatusMiB(webhook.child.pid, "VmHWM");
    await webhook.stop();
    return {
      live: {
        ...live,
        brEntJobMutated: jobLoad,
        apiCallsDuringLoad: callsAfter - callsBefore,
        rssAfterLoadMiB: rssAfterLoad,
        rssPeakOverallMiB: rssPeakOverall,
      },
      comparison,
    };
  } finally {
    await closeApiConnections(kubeConfig);
    stopControlPlane(plane);
  }
}

async function main() {
  if (process.env.BENCH_REPORT_ONLY)
    return writeReport(readResults("bench/results.json") as Results);
  if (process.env.BENCH_ONLY === "audit") return auditOnly();
  if (process.env.BENCH_ONLY === "live") return liveOnly();
  const machine = {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    node: process.version,
    date: new Date().toISOString(),
    serverPinnedToCore: Number(SERVER_CORE),
    webhookNodeFlags: IMAGE_NODE_FLAGS,
    webhookUnderTest: WEBHOOK_ROOT,
    webhookShipped: WEBHOOK_SHIPPED,
  };
  log(`machine: ${JSON.stringify(machine)}`);
  const dir = await mkdtemp(join(tmpdir(), "nbw-bench-"));
  const certs = generateCertificates(["localhost"], ["127.0.0.1"]);
  await writeFile(join(dir, "tls.crt"), certs.serving.cert);
  await writeFile(join(dir, "tls.key"), certs.serving.key);
  const bigState = join(dir, "cluster-state-10k.yaml");
  await writeFile(bigState, largeClusterState(CLUSTERS, NAMESPACES));

  // Distinct objects per scenario, each aimed at a cluster with BR enabled.
  const target = (i: number) => targetOf(brEnabledCluster(i), NAMESPACES);
  const fast = distinct(DISTINCT, "/validate", (i) => unrelatedJob(i, target(i)));
  const guarded = GUARDED_WORKLOAD_KINDS.map((kind) => ({
    id: `br${kind}`,
    label: `br-ent ${kind}, ${kind === "Job" || kind === "CronJob" ? "/mutate (completed)" : "/validate"}`,
    requests: distinct(
      DISTINCT,
      kind === "Job" || kind === "CronJob" ? "/mutate" : "/validate",
      (i) => brWorkload(kind, i, target(i)),
    ),
  }));
  const restoreDenied = distinct(DISTINCT, "/validate", (i) =>
    restore(i, target(i), "no-such-secret"),
  );
  const mixed = [
    ...fast,
    ...fast,
    ...guarded.flatMap((g) => g.requests.slice(0, 150)),
    ...restoreDenied.slice(0, 150),
  ];
  const scenarios = [
    { id: "fastPath", label: "fast path: unrelated Job, /validate", requests: fast },
    ...guarded,
    { id: "restoreDenied", label: "NebulaRestore denied, /validate", requests: restoreDenied },
    { id: "mixed", label: "mixed stream", requests: mixed },
  ];

  const ca = certs.ca.cert;
  const cli = shippedCli(dir);
  const webhookArgs = serveArgs(dir, cli);
  const healthy = (port: number) => async () =>
    (await post(port, ca, "/readyz", undefined, { method: "GET" })).status === 200;

  // Memory at rest: the embedded 7-object state against 10,000 clusters.
  const smallPort = await freePort();
  const small = await startPinned(
    webhookArgs(smallPort),
    smallPort,
    healthy(smallPort),
    join(dir, "small.log"),
    WEBHOOK_ROOT,
  );
  await sleep(1000);
  const rssSmallIdle = rssMiB(small.child.pid);
  await small.stop();

  const webhookPort = await freePort();
  const webhook = await startPinned(
    [...webhookArgs(webhookPort), "--cluster-state", bigState],
    webhookPort,
    healthy(webhookPort),
    join(dir, "webhook.log"),
    WEBHOOK_ROOT,
  );
  await sleep(1000);
  const rssBigIdle = rssMiB(webhook.child.pid);
  const heapBig = await heapUsedMiB(webhookPort, ca);
  const basePort = await freePort();
  const baseline = await startDoNothing(dir, ca, basePort, "baseline");

  log(
    `throughput: baseline and ${scenarios.length} webhook scenarios, ${ROUNDS} interleaved rounds of ${SECONDS} s`,
  );
  // This machine's speed drifts: every scenario runs once per round, right after the
  // baseline, and the tables show min / median / max over rounds.
  const rounds: Record<string, Load[]> = { baseline: [] };
  for (const s of scenarios) rounds[s.id] = [];
  for (let round = 0; round < ROUNDS; round++) {
    rounds.baseline?.push(await load(basePort, fast, SECONDS, baseline.child.pid));
    for (const s of scenarios)
      rounds[s.id]?.push(await load(webhookPort, s.requests, SECONDS, webhook.child.pid));
    log(
      `round ${round + 1}: baseline ${rounds.baseline?.at(-1)?.requestsPerSecond} req/s, fast path ${rounds.fastPath?.at(-1)?.requestsPerSecond} req/s`,
    );
  }

  log("latency at 1,000 req/s, open loop (constant rate)");
  const at1000 = {
    baselineFastPath: await constantRate(basePort, ca, fast, 1000, 10),
    fastPath: await constantRate(webhookPort, ca, fast, 1000, 10),
    mixed: await constantRate(webhookPort, ca, mixed, 1000, 10),
  };
  const rssAfterLoad = rssMiB(webhook.child.pid);
  await baseline.stop();

  log("in process: lookups, admission of distinct objects, the log line");
  const parsed = parseManifests(readFileSync(bigState, "utf8"), "big");
  if (!parsed.ok) throw new Error(parsed.reason);
  const process_ = await inProcess(parsed.objects.map((o) => o.object));

  log(`soak: mixed stream at 500 req/s for ${SOAK_SECONDS} s`);
  const samples: { second: number; rssMiB: number }[] = [];
  const soakStarted = Date.now();
  const sampler = setInterval(
    () =>
      samples.push({
        second: Math.round((Date.now() - soakStarted) / 1000),
        rssMiB: rssMiB(webhook.child.pid),
      }),
    10_000,
  );
  const soakLoad = await constantRate(webhookPort, ca, mixed, 500, SOAK_SECONDS);
  clearInterval(sampler);
  samples.push({ second: SOAK_SECONDS, rssMiB: rssMiB(webhook.child.pid) });
  await webhook.stop();
  const firstMinute = samples.filter((s) => s.second <= 60).map((s) => s.rssMiB);
  const lastMinute = samples.filter((s) => s.second >= SOAK_SECONDS - 60).map((s) => s.rssMiB);

  log(`live view: ${LIVE_CLUSTERS} operator-sized NebulaClusters on the e2e API server`);
  const { live, comparison } = await liveScale(dir, ca, webhookArgs);

  log(`audit at scale: ${AUDIT_OBJECTS} br-ent Jobs on the e2e API server`);
  const audit = await auditScale(AUDIT_OBJECTS, cli, dir, log);

  const results: Results = {
    machine,
    settings: {
      seconds: SECONDS,
      rounds: ROUNDS,
      connections: CONNECTIONS,
      clusters: CLUSTERS,
      namespaces: NAMESPACES,
      distinctObjects: DISTINCT,
    },
    scenarios: [
      { id: "baseline", label: "baseline: bare https, parse and allow" },
      ...scenarios.map(({ id, label }) => ({ id, label })),
    ],
    rounds,
    latencyAt1000rps: at1000,
    memory: {
      rssIdleEmbeddedStateMiB: rssSmallIdle,
      rssIdle10kClustersMiB: rssBigIdle,
      heapUsed10kClustersMiB: heapBig,
      rssAfterLoadMiB: rssAfterLoad,
    },
    inProcess: process_,
    soak: {
      seconds: SOAK_SECONDS,
      load: soakLoad,
      rssFirstMinuteMaxMiB: Math.max(...firstMinute),
      rssLastMinuteMaxMiB: Math.max(...lastMinute),
      rssMaxMiB: Math.max(...samples.map((s) => s.rssMiB)),
      samples,
    },
    live,
    throughApiServer: summarize(comparison),
    auditScale: audit,
  };
  if (WRITE_BEFORE) {
    writeFileSync(join(REPO_ROOT, "bench/before.json"), `${JSON.stringify(results, null, 2)}\n`);
    log("wrote bench/before.json");
    return;
  }
  saveResults(results);
}

/** BENCH_ONLY=audit: the audit section alone, put in place of the last run's. */
async function auditOnly(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "nbw-bench-"));
  const audit = await auditScale(AUDIT_OBJECTS, shippedCli(dir), dir, log);
  const results = readResults("bench/results.json");
  if (!results) {
    log("no bench/results.json to add the audit section to");
    return;
  }
  results.auditScale = audit;
  results.auditRerun = { date: new Date().toISOString() };
  saveResults(results);
}

/**
 * The webhook as the image ships it, laid out in `dir`/app from WEBHOOK_ROOT's dist/ by
 * image/bundle.sh (one minified bundle). What V8 holds is then the bundle's code and source,
 * not that of dist/'s thousand modules: with 10,000 NebulaClusters the peak RSS was 159
 * against 190 MiB from dist/, idle 124 against 147 MiB, and the start-up collection 94
 * against 119 ms (2026-11-27). Returns the path of its cli.js.
 */
const WEBHOOK_SHIPPED = "the image's bundle (image/bundle.sh)";
function shippedCli(dir: string): string {
  execFileSync("bash", [join(REPO_ROOT, "image/bundle.sh"), join(dir, "app"), WEBHOOK_ROOT], {
    stdio: "inherit",
  });
  return join(dir, "app/dist/src/cli.js");
}

/** bench/baseline-server.js on `port`, pinned like the webhook; giving `answers` when given. */
function startDoNothing(
  dir: string,
  ca: string,
  port: number,
  name: string,
  answers?: string,
): Promise<Server> {
  return startPinned(
    [
      "dist/bench/baseline-server.js",
      String(port),
      join(dir, "tls.crt"),
      join(dir, "tls.key"),
      ...(answers ? [answers] : []),
    ],
    port,
    async () => (await post(port, ca, "/", { request: { uid: "x" } })).status === 200,
    join(dir, `${name}.log`),
  );
}

/** `serve` of the webhook under test on `port`, with the certificate written into `dir`. */
function serveArgs(dir: string, cli: string): (port: number) => string[] {
  return (port) => [
    cli,
    "serve",
    "--port",
    String(port),
    "--tls-cert",
    join(dir, "tls.crt"),
    "--tls-key",
    join(dir, "tls.key"),
  ];
}

/** BENCH_ONLY=live: the live view and the API-server comparison alone, put in place of the last run's. */
async function liveOnly(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "nbw-bench-"));
  const certs = generateCertificates(["localhost"], ["127.0.0.1"]);
  await writeFile(join(dir, "tls.crt"), certs.serving.cert);
  await writeFile(join(dir, "tls.key"), certs.serving.key);
  const { live, comparison } = await liveScale(dir, certs.ca.cert, serveArgs(dir, shippedCli(dir)));
  const results = readResults("bench/results.json");
  if (!results) {
    log("no bench/results.json to add the live section to");
    return;
  }
  results.live = live;
  results.throughApiServer = summarize(comparison);
  results.rerun = {
    sections: "The live view and the comparison through the API server",
    date: new Date().toISOString(),
    webhookNodeFlags: IMAGE_NODE_FLAGS,
    webhookShipped: WEBHOOK_SHIPPED,
  };
  saveResults(results);
}

/** bench/results.json and, from it, bench/README.md. */
function saveResults(results: Results): void {
  writeFileSync(join(REPO_ROOT, "bench/results.json"), `${JSON.stringify(results, null, 2)}\n`);
  writeReport(results);
}

function readResults(file: string): Results | undefined {
  const path = join(REPO_ROOT, file);
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as Results) : undefined;
}

/** bench/README.md from these results, and bench/before.json's when there is one. */
function writeReport(results: Results): void {
  writeFileSync(
    join(REPO_ROOT, "bench/README.md"),
    report(results, readResults("bench/before.json")),
  );
  log("wrote bench/README.md");
}

const quantile = (sorted: number[], q: number): number =>
  Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 100) / 100;

/** p50 and p99 per object and variant (all rounds pooled, and per round), CPU per create. */
function summarize(comparison: Comparison) {
  const out: Record<string, Record<string, unknown>> = {};
  for (const object of OBJECTS) {
    out[object] = {};
    for (const variant of VARIANTS) {
      const batches = comparison.batches[object][variant];
      const all = batches.flatMap((b) => b.latenciesMs).sort((a, b) => a - b);
      const perRound = batches.map((b) => [...b.latenciesMs].sort((x, y) => x - y));
      (out[object] as Record<string, unknown>)[variant] = {
        requests: all.length,
        errors: batches.reduce((sum, b) => sum + b.errors, 0),
        p50Ms: quantile(all, 0.5),
        p99Ms: quantile(all, 0.99),
        p50MsPerRound: perRound.map((l) => quantile(l, 0.5)),
        p99MsPerRound: perRound.map((l) => quantile(l, 0.99)),
        apiServerCpuMsPerCreate: round2(median(batches.map((b) => b.apiServerCpuMs))),
        webhookCpuMsPerCreate: round2(median(batches.map((b) => b.webhookCpuMs))),
        ...(batches.every((b) => b.serverWaitMs !== undefined)
          ? {
              serverWaitMsPerCreate: round3(median(batches.map((b) => b.serverWaitMs ?? 0))),
              serverWaitMsPerCreateMax: round3(
                Math.max(...batches.map((b) => b.serverWaitMs ?? 0)),
              ),
            }
          : {}),
      };
    }
  }
  const afterIdle: Record<string, Record<string, IdleFigures>> = {};
  for (const object of OBJECTS) {
    const figures: Record<string, IdleFigures> = {};
    afterIdle[object] = figures;
    for (const variant of IDLE_VARIANTS) {
      const all = [...comparison.afterIdle[object][variant]].sort((a, b) => a - b);
      figures[variant] = {
        requests: all.length,
        p50Ms: quantile(all, 0.5),
        maxMs: round2(all.at(-1) ?? 0),
        latenciesMs: comparison.afterIdle[object][variant].map(round2),
      };
    }
  }
  return {
    rounds: comparison.rounds,
    perRound: comparison.perRound,
    webhookConnectionsToApiServer: comparison.webhookConnectionsToApiServer,
    results: out,
    idleGapMs: comparison.idleGapMs,
    afterIdle,
    idleConnectionsOpened: comparison.idleConnectionsOpened,
    webhookDuringRounds: comparison.webhookDuringRounds,
    apiServerCallsDuringRounds: comparison.apiServerCallsDuringRounds,
  };
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const round3 = (x: number) => Math.round(x * 1000) / 1000;
const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

main().catch((error: unknown) => {
  log(`failed: ${(error as Error).stack ?? error}`);
  process.exit(1);
});

export type { RateResult };
