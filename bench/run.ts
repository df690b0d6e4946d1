/**
 * `make bench`: throughput and latency over real TLS with keep-alive on 127.0.0.1 against a
 * bare https baseline, memory and lookup cost at 10,000 NebulaClusters (static file and live
 * informer), zero API calls in steady state, and a soak for leaks. Writes bench/results.json
 * and bench/README.md. BENCH_SECONDS (10) and BENCH_SOAK_SECONDS (300) shorten it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import autocannon from "autocannon";
import { admit } from "../src/admission/admit.js";
import { decodeReview, reviewFor } from "../src/admission/review.js";
import { StaticClusterView } from "../src/cluster-view/static-view.js";
import { defaultConfig } from "../src/config/config.js";
import { parseManifests } from "../src/kube/manifests.js";
import type { KubeObject } from "../src/kube/objects.js";
import { createLogger } from "../src/log.js";
import { generateCertificates } from "../src/server/certificates.js";
import { installCrds, startControlPlane, stopControlPlane } from "../test/e2e/harness.js";
import { example, REPO_ROOT, withFields } from "../test/support/fixtures.js";
import { post } from "../test/support/https-client.js";
import { apiCallsMade } from "../test/support/measure.js";
import { freePort } from "../test/support/serve-process.js";
import { largeClusterObjects, largeClusterState } from "./cluster-state.js";
import { constantRate, type RateResult } from "./constant-rate.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SOAK_SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 300);
const CLUSTERS = 10_000;
const NAMESPACES = 1_000;
const CONNECTIONS = 10;
const ROUNDS = 5;
const SERVER_CORE = "0";

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

interface Load {
  requestsPerSecond: number;
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

function rssMiB(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(status.match(/VmRSS:\s+(\d+) kB/)?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}

/** Starts a server process pinned to one core; resolves when `ready` answers. */
async function startPinned(
  args: string[],
  port: number,
  ready: () => Promise<boolean>,
  logFile: string,
): Promise<Server> {
  // Output straight to a file: a pipe into this process would load the load generator's core.
  const output = openSync(logFile, "w");
  const child = spawn("taskset", ["-c", SERVER_CORE, process.execPath, ...args], {
    cwd: REPO_ROOT,
    stdio: ["ignore", output, output],
  });
  closeSync(output);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  for (let i = 0; i < 600; i++) {
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
  options: { seconds: number },
): Promise<Load> {
  const result = await autocannon({
    url: `https://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: options.seconds,
    headers: { "content-type": "application/json" },
    requests: requests.map((r) => ({ method: "POST", path: r.path, body: r.body })),
  });
  return {
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    requests: result.requests.total,
  };
}

/** The run with the median throughput. */
function median(loads: Load[]): Load {
  return [...loads].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond)[
    Math.floor(loads.length / 2)
  ] as Load;
}

const reviewBody = (object: KubeObject) =>
  JSON.stringify(reviewFor(object, { uid: "3d0f7a52-8d8e-4f57-9a0c-6a1c2d4b5e6f" }));

/** µs per call of `work`, over enough calls to be measurable. */
async function microseconds(
  calls: number,
  work: () => unknown | Promise<unknown>,
): Promise<number> {
  for (let i = 0; i < Math.min(calls, 1000); i++) await work();
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) await work();
  return Math.round(Number(process.hrtime.bigint() - started) / calls / 10) / 100;
}

async function lookupCost(objects: KubeObject[], job: KubeObject) {
  const view = new StaticClusterView(objects);
  const decoded = decodeReview(reviewFor(job, { uid: "u" }));
  if (!decoded.ok) throw new Error(decoded.error.reason);
  const logger = createLogger("silent");
  const signal = new AbortController().signal;
  const names = objects
    .filter((o) => o.kind === "NebulaCluster")
    .map((o) => [o.metadata?.namespace ?? "", o.metadata?.name ?? ""] as const);
  let i = 0;
  return {
    clusters: names.length,
    lookupUs: await microseconds(200_000, () => {
      const [ns, name] = names[i++ % names.length] as readonly [string, string];
      return view.nebulaCluster(ns, name);
    }),
    admitBrJobUs: await microseconds(20_000, () =>
      admit(decoded.request, "mutate", { view, config: defaultConfig, logger }, signal),
    ),
  };
}

async function main() {
  const machine = {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    node: process.version,
    date: new Date().toISOString(),
    serverPinnedToCore: Number(SERVER_CORE),
  };
  log(`machine: ${JSON.stringify(machine)}`);
  const dir = await mkdtemp(join(tmpdir(), "nbw-bench-"));
  const certs = generateCertificates(["localhost"], ["127.0.0.1"]);
  await writeFile(join(dir, "tls.crt"), certs.serving.cert);
  await writeFile(join(dir, "tls.key"), certs.serving.key);
  await writeFile(join(dir, "ca.pem"), certs.ca.cert);
  const bigState = join(dir, "cluster-state-10k.yaml");
  await writeFile(bigState, largeClusterState(CLUSTERS, NAMESPACES));

  // Requests: the fast path, a br-ent Job that is mutated, a restore that is denied.
  const unrelatedJob = withFields(example("backup-job.yaml"), {
    "metadata.namespace": "ns-1",
    "metadata.labels": undefined,
    "spec.template.spec.containers": [
      {
        name: "pi",
        image: "perl:5.34",
        command: ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"],
      },
    ],
  });
  const brJob = withFields(example("backup-job.yaml"), {
    "metadata.namespace": "ns-1",
    "metadata.labels": { "app.kubernetes.io/cluster": "cluster-1" },
  });
  const restoreDenied = example("restore-denied.yaml");
  const fast = [{ path: "/validate", body: reviewBody(unrelatedJob) }];
  const mutated = [{ path: "/mutate", body: reviewBody(brJob) }];
  const denied = [{ path: "/validate", body: reviewBody(restoreDenied) }];
  const mixed = [
    ...fast,
    ...fast,
    ...mutated,
    { path: "/validate", body: reviewBody(brJob) },
    ...denied,
  ];

  const ca = certs.ca.cert;
  const webhookPort = await freePort();
  const webhookArgs = [
    "dist/src/cli.js",
    "serve",
    "--port",
    String(webhookPort),
    "--tls-cert",
    join(dir, "tls.crt"),
    "--tls-key",
    join(dir, "tls.key"),
  ];
  const healthy = (port: number) => async () =>
    (await post(port, ca, "/readyz", undefined, { method: "GET" })).status === 200;

  // Memory at rest: the embedded 7-object state against 10,000 clusters.
  const small = await startPinned(
    webhookArgs,
    webhookPort,
    healthy(webhookPort),
    join(dir, "small.log"),
  );
  await sleep(1000);
  const rssSmallIdle = rssMiB(small.child.pid);
  await small.stop();

  const webhook = await startPinned(
    [...webhookArgs, "--cluster-state", bigState],
    webhookPort,
    healthy(webhookPort),
    join(dir, "webhook.log"),
  );
  await sleep(1000);
  const rssBigIdle = rssMiB(webhook.child.pid);
  const heapBig = await heapUsedMiB(webhookPort, ca);
  const basePort = await freePort();
  const baseline = await startPinned(
    ["dist/bench/baseline-server.js", String(basePort), join(dir, "tls.crt"), join(dir, "tls.key")],
    basePort,
    async () => {
      const answer = await post(basePort, ca, "/", { request: { uid: "x" } });
      return answer.status === 200;
    },
    join(dir, "baseline.log"),
  );

  log("throughput: baseline and webhook fast path, interleaved rounds, 10 keep-alive connections");
  // This machine's speed drifts between runs: pair the two servers round by round and
  // compare medians, so the ratio does not depend on which ran in a lucky second.
  const baselineRounds: Load[] = [];
  const fastRounds: Load[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    baselineRounds.push(await load(basePort, fast, { seconds: SECONDS }));
    fastRounds.push(await load(webhookPort, fast, { seconds: SECONDS }));
  }
  const throughput = {
    baselineFastPath: median(baselineRounds),
    fastPath: median(fastRounds),
    brEntJobMutated: await load(webhookPort, mutated, { seconds: SECONDS }),
    restoreDenied: await load(webhookPort, denied, { seconds: SECONDS }),
    mixed: await load(webhookPort, mixed, { seconds: SECONDS }),
  };
  const rounds = {
    baseline: baselineRounds.map((l) => l.requestsPerSecond),
    fastPath: fastRounds.map((l) => l.requestsPerSecond),
  };
  const ratio =
    Math.round(
      (throughput.fastPath.requestsPerSecond / throughput.baselineFastPath.requestsPerSecond) * 100,
    ) / 100;
  log(
    `fast path ${throughput.fastPath.requestsPerSecond} req/s = ${ratio} of baseline ${throughput.baselineFastPath.requestsPerSecond} (rounds ${JSON.stringify(rounds)})`,
  );

  log("latency at 1,000 req/s, open loop (constant rate)");
  const at1000 = {
    baselineFastPath: await constantRate(basePort, ca, fast, 1000, SECONDS),
    fastPath: await constantRate(webhookPort, ca, fast, 1000, SECONDS),
    mixed: await constantRate(webhookPort, ca, mixed, 1000, SECONDS),
  };
  const rssAfterLoad = rssMiB(webhook.child.pid);
  await baseline.stop();

  log("lookup and admission cost, 10 vs 10,000 clusters (in process)");
  const bigObjects = parseManifests(readFileSync(bigState, "utf8"), "big");
  if (!bigObjects.ok) throw new Error(bigObjects.reason);
  const smallObjects = bigObjects.objects.slice(0, 10).map((o) => o.object);
  const lookups = {
    clusters10: await lookupCost(smallObjects, brJob),
    clusters10000: await lookupCost(
      bigObjects.objects.map((o) => o.object),
      brJob,
    ),
  };

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
  const soak = {
    seconds: SOAK_SECONDS,
    load: soakLoad,
    rssFirstMinuteMaxMiB: Math.max(...firstMinute),
    rssLastMinuteMaxMiB: Math.max(...lastMinute),
    rssMaxMiB: Math.max(...samples.map((s) => s.rssMiB)),
    samples,
  };

  log("live informer: 10,000 NebulaClusters in 1,000 namespaces on the e2e API server");
  const live = await liveScale(dir, ca, brJob);

  const results: Results = {
    machine,
    settings: {
      seconds: SECONDS,
      connections: CONNECTIONS,
      clusters: CLUSTERS,
      namespaces: NAMESPACES,
    },
    throughput,
    ratioToBaseline: ratio,
    rounds,
    latencyAt1000rps: at1000,
    memory: {
      rssIdleEmbeddedStateMiB: rssSmallIdle,
      rssIdle10kClustersMiB: rssBigIdle,
      heapUsed10kClustersMiB: heapBig,
      rssAfterLoadMiB: rssAfterLoad,
    },
    lookups,
    soak,
    live,
  };
  writeFileSync(join(REPO_ROOT, "bench/results.json"), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(REPO_ROOT, "bench/README.md"), report(results));
  log("wrote bench/results.json and bench/README.md");
}

async function heapUsedMiB(port: number, ca: string): Promise<number> {
  const text = (await post(port, ca, "/metrics", undefined, { method: "GET" })).text;
  const bytes = Number(
    text.match(/^nebula_br_webhook_nodejs_heap_size_used_bytes (\d+)/m)?.[1] ?? 0,
  );
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}

async function liveScale(dir: string, ca: string, brJob: KubeObject) {
  const plane = await startControlPlane();
  try {
    installCrds(plane);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(plane.kubeconfig);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    const { namespaces, clusters } = largeClusterObjects(CLUSTERS, NAMESPACES);
    const started = Date.now();
    await inParallel(namespaces, 16, (ns) => core.createNamespace({ body: ns }));
    await inParallel(clusters, 16, (nc) =>
      custom.createNamespacedCustomObject({
        group: "apps.nebula-graph.io",
        version: "v1alpha1",
        plural: "nebulaclusters",
        namespace: nc.metadata.namespace,
        body: nc,
      }),
    );
    const createSeconds = Math.round((Date.now() - started) / 100) / 10;
    const port = await freePort();
    const syncStarted = Date.now();
    const webhook = await startPinned(
      [
        "dist/src/cli.js",
        "serve",
        "--port",
        String(port),
        "--tls-cert",
        join(dir, "tls.crt"),
        "--tls-key",
        join(dir, "tls.key"),
        "--kubeconfig",
        plane.kubeconfig,
        "--audit-interval",
        "0",
      ],
      port,
      async () => (await post(port, ca, "/readyz", undefined, { method: "GET" })).status === 200,
      join(dir, "live.log"),
    );
    const syncSeconds = Math.round((Date.now() - syncStarted) / 100) / 10;
    await sleep(1000);
    const rssIdle = rssMiB(webhook.child.pid);
    const heap = await heapUsedMiB(port, ca);
    const callsBefore = await apiCallsMade(port, ca);
    const jobLoad = await load(port, [{ path: "/mutate", body: reviewBody(brJob) }], {
      seconds: SECONDS,
    });
    const callsAfter = await apiCallsMade(port, ca);
    const rssAfter = rssMiB(webhook.child.pid);
    await webhook.stop();
    return {
      createSeconds,
      syncSeconds,
      rssIdleMiB: rssIdle,
      heapUsedMiB: heap,
      rssAfterLoadMiB: rssAfter,
      brEntJobMutated: jobLoad,
      apiCallsDuringLoad: callsAfter - callsBefore,
    };
  } finally {
    stopControlPlane(plane);
  }
}

async function inParallel<T>(
  items: readonly T[],
  width: number,
  work: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    [...Array(width)].map(async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await work(item);
      }
    }),
  );
}

interface Results {
  machine: { date: string; cpu: string; cores: number; node: string; serverPinnedToCore: number };
  settings: { seconds: number; connections: number; clusters: number; namespaces: number };
  throughput: Record<
    "baselineFastPath" | "fastPath" | "brEntJobMutated" | "restoreDenied" | "mixed",
    Load
  >;
  ratioToBaseline: number;
  rounds: { baseline: number[]; fastPath: number[] };
  latencyAt1000rps: Record<"baselineFastPath" | "fastPath" | "mixed", RateResult>;
  memory: {
    rssIdleEmbeddedStateMiB: number;
    rssIdle10kClustersMiB: number;
    heapUsed10kClustersMiB: number;
    rssAfterLoadMiB: number;
  };
  lookups: Record<
    "clusters10" | "clusters10000",
    { clusters: number; lookupUs: number; admitBrJobUs: number }
  >;
  soak: {
    seconds: number;
    load: RateResult;
    rssFirstMinuteMaxMiB: number;
    rssLastMinuteMaxMiB: number;
    rssMaxMiB: number;
    samples: { second: number; rssMiB: number }[];
  };
  live: {
    createSeconds: number;
    syncSeconds: number;
    rssIdleMiB: number;
    heapUsedMiB: number;
    rssAfterLoadMiB: number;
    brEntJobMutated: Load;
    apiCallsDuringLoad: number;
  };
}

function row(name: string, l: Load): string {
  return `| ${name} | ${l.requestsPerSecond} | ${l.p50Ms} | ${l.p99Ms} | ${l.maxMs} | ${l.errors + l.non2xx} |`;
}

function rateRow(name: string, l: RateResult): string {
  return `| ${name} | ${l.sent} | ${l.p50Ms} | ${l.p90Ms} | ${l.p99Ms} | ${l.maxMs} | ${l.errors} |`;
}

function report(r: Results): string {
  const t = r.throughput;
  return `# Benchmark results

Made by \`make bench\` (bench/run.ts) on ${r.machine.date}: ${r.machine.cpu}, ${r.machine.cores} cores, Node.js ${r.machine.node}.
Servers pinned to core ${r.machine.serverPinnedToCore} (one core), the load generator (autocannon, ${r.settings.connections} keep-alive TLS connections on 127.0.0.1) on the other.
The webhook judges against a static view of ${r.settings.clusters} NebulaClusters in ${r.settings.namespaces} namespaces. Raw numbers: [results.json](results.json).

## Throughput (${r.settings.seconds} s each, as fast as it goes)

| scenario | req/s | p50 ms | p99 ms | max ms | errors |
|---|---|---|---|---|---|
${row("baseline: bare https, parse and allow", t.baselineFastPath)}
${row("fast path: unrelated Job, /validate", t.fastPath)}
${row("br-ent Job mutated, /mutate", t.brEntJobMutated)}
${row("restore denied, /validate", t.restoreDenied)}
${row("mixed stream", t.mixed)}

Fast path = **${r.ratioToBaseline}** of the baseline (target ≥ 0.7), medians of ${r.rounds.fastPath.length} interleaved rounds
(baseline ${r.rounds.baseline.join(", ")} req/s; webhook ${r.rounds.fastPath.join(", ")} req/s).

## Latency at 1,000 req/s (open loop: one request every millisecond, after a 1 s warm-up)

| scenario | requests | p50 ms | p90 ms | p99 ms | max ms | errors |
|---|---|---|---|---|---|---|
${rateRow("baseline: bare https", r.latencyAt1000rps.baselineFastPath)}
${rateRow("fast path", r.latencyAt1000rps.fastPath)}
${rateRow("mixed stream", r.latencyAt1000rps.mixed)}

Target: p99 under 5 ms. The baseline row shows what this machine and client add by themselves.

## Memory and lookups at scale

| | value |
|---|---|
| RSS idle, embedded example state | ${r.memory.rssIdleEmbeddedStateMiB} MiB |
| RSS idle, 10,000 clusters (static file) | ${r.memory.rssIdle10kClustersMiB} MiB |
| heap used, 10,000 clusters (static file) | ${r.memory.heapUsed10kClustersMiB} MiB |
| RSS after the load runs | ${r.memory.rssAfterLoadMiB} MiB |
| cluster lookup, 10 clusters | ${r.lookups.clusters10.lookupUs} µs |
| cluster lookup, 10,000 clusters | ${r.lookups.clusters10000.lookupUs} µs |
| br-ent Job admission (in process), 10 clusters | ${r.lookups.clusters10.admitBrJobUs} µs |
| br-ent Job admission (in process), 10,000 clusters | ${r.lookups.clusters10000.admitBrJobUs} µs |

## Live informer, 10,000 NebulaClusters on a real kube-apiserver

| | value |
|---|---|
| creating 1,000 namespaces and 10,000 clusters | ${r.live.createSeconds} s |
| webhook start to ready (informer synced) | ${r.live.syncSeconds} s |
| RSS idle / heap used | ${r.live.rssIdleMiB} MiB / ${r.live.heapUsedMiB} MiB |
| br-ent Job mutated | ${r.live.brEntJobMutated.requestsPerSecond} req/s, p99 ${r.live.brEntJobMutated.p99Ms} ms, ${r.live.brEntJobMutated.requests} requests |
| API calls made during that load | ${r.live.apiCallsDuringLoad} |
| RSS after the load | ${r.live.rssAfterLoadMiB} MiB |

## Soak (${r.soak.seconds} s, mixed stream at 500 req/s)

${r.soak.load.sent} requests, ${r.soak.load.errors} errors, p50 ${r.soak.load.p50Ms} ms, p99 ${r.soak.load.p99Ms} ms.
RSS: max ${r.soak.rssFirstMinuteMaxMiB} MiB in the first minute, max ${r.soak.rssLastMinuteMaxMiB} MiB in the last minute, ${r.soak.rssMaxMiB} MiB overall
(samples every 10 s: ${r.soak.samples.map((s) => s.rssMiB).join(", ")}).
`;
}

main().catch((error: unknown) => {
  log(`failed: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
