/**
 * The audit at scale on a real kube-apiserver (issue 11: "100,000 guarded objects audited in
 * bounded memory (paginated lists) with the time reported"). Fills the e2e API server with
 * hand-written br-ent backup Jobs (bench/audit-objects.ts) over many concurrent requests on the
 * shared kept-alive client, first 10,000 then up to BENCH_AUDIT_OBJECTS, and after each step runs
 * `nebula-br-webhook audit -A -o json` as a user does, as its own process: wall time, LIST
 * requests the API server counted, verdicts, peak RSS (VmHWM) and heap.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, createReadStream, openSync, readFileSync, readSync, statSync } from "node:fs";
import { rm } from "node:fs/promises";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { BatchV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { PAGE_SIZE } from "../src/audit/inventory.js";
import { apiClient, closeApiConnections } from "../src/kube/api-client.js";
import {
  type ControlPlane,
  installCrds,
  startControlPlane,
  stopControlPlane,
} from "../test/e2e/harness.js";
import { processMemoryKiB } from "../test/support/measure.js";
import {
  dropFromPageCache,
  JOIN_FAILED,
  memoryCgroup,
  uncachedCopy,
} from "../test/support/memory-cgroup.js";
import { freePort } from "../test/support/serve-process.js";
import { auditClusters, auditJob, auditNamespace } from "./audit-objects.js";
import { chartMemoryLimitBytes, IMAGE_ENV, IMAGE_NODE_FLAGS } from "./image-runtime.js";
import { inParallel } from "./live-clusters.js";

/** Namespaces the Jobs are spread over (1,000 Jobs each at 100,000). */
const NAMESPACES = 100;
/** Concurrent create requests over the one shared connection pool. */
const WIDTH = 48;
/** The smaller step, against which the full count shows whether memory grows with it. */
const FIRST_STEP = 10_000;
/** How long the bench waits for serve's first background audit to end (its time is reported). */
const SERVE_WAIT_SECONDS = 1800;
/**
 * Where no memory cgroup can be made: the old space Node.js would get from the chart's limit
 * if V8 left the rest of it to code, buffers and the young generation (half of it). Only an
 * estimate: outside a cgroup V8 sees the machine's memory and collects as lazily as it does
 * there, so the peak differs from a pod's (100,000 Jobs: 263 MiB this way; 220.8 and
 * 243.1 MiB in a 256 MiB cgroup).
 */
const estimatedHeapFlags = (limitBytes: number) => [
  `--max-old-space-size=${Math.floor(limitBytes / 2 ** 21)}`,
];

const probe = fileURLToPath(new URL("./audit-probe.js", import.meta.url));

export interface AuditCliRun {
  /** 1 is expected: some Jobs break rules, and `audit` exits 1 on any fail. */
  exitCode: number | null;
  wallSeconds: number;
  /** Guarded objects the CLI says it audited (its summary). */
  audited: number;
  /** One result per object and rule, as the summary counts them. */
  results: { pass: number; fail: number; warn: number };
  /** Objects by their worst result, from the JSON the CLI printed (json output only). */
  objects?: { fail: number; warnOnly: number; pass: number };
  /** LIST requests the API server counted during the run, by resource. */
  listRequests: Record<string, number>;
  outputMiB: number;
  rssPeakMiB: number;
  heapUsedPeakMiB: number;
  heapTotalPeakMiB: number;
  /** The end of stderr when the run printed no summary. */
  error?: string;
}

export interface AuditStep {
  /** br-ent Jobs in the API server when the audit ran. */
  jobs: number;
  /** Jobs created for this step, and how long that took. */
  created: number;
  createSeconds: number;
  createPerSecond: number;
  etcdDbMiB: number;
  /** `audit -A -o json`: every result printed. */
  cli: AuditCliRun;
  /** `audit -A` (the table, fails and warnings only): the same audit, a small output. */
  cliTable: AuditCliRun;
  /** The background audit of `serve`: each namespace's PolicyReport, in parts of 1,000 results. */
  serve: ServeAudit;
}

export interface ServeAudit {
  /**
   * Its own log line's figures; `outcome` is "done", "failed", "killed by SIGKILL" (the kernel,
   * at the memory limit), "exited with N" or "not done after … s".
   */
  outcome: string;
  auditMs?: number;
  objects?: number;
  results?: number;
  reports?: { created: number; updated: number; deleted: number; unchanged: number };
  /** The reason it logged when it failed (the end of it). */
  reason?: string;
  /** Peak RSS of the serve process from start through the audit (VmHWM, read at its end). */
  rssPeakMiB: number;
  /** The most anonymous memory it held (RssAnon, sampled every 500 ms): what the kernel cannot take back. */
  anonPeakMiB?: number;
  /** The node flags serve ran with: the image's (bench/image-runtime.ts), or those and an estimate. */
  nodeFlags: string[];
  memoryLimit: ServeMemoryLimit;
}

/** How serve was held to the chart's memory limit. */
export type ServeMemoryLimit =
  | {
      /** A memory cgroup of the chart's limit, as the pod's container gets. */
      how: "cgroup v1" | "cgroup v2";
      limitMiB: number;
      /** The most the cgroup was charged: memory and the page cache serve read. */
      peakChargeMiB: number | undefined;
      /** Charges refused at the limit (memory.failcnt, or v2's `max` event): the kernel then took memory back. */
      limitHits?: number;
      /** Processes the kernel killed at the limit. */
      oomKills: number;
      /** Whether node's code and the bundle were charged to it as read, or why not. */
      filesCharged?: true | string;
    }
  | { how: "estimated"; limitMiB: number; why: string };

export interface AuditScaleResults {
  pageSize: number;
  namespaces: number;
  nebulaClusters: number;
  createConcurrency: number;
  /** One Job as the API server returns it (JSON, with its defaults and managedFields). */
  storedBytesPerJob: number;
  steps: AuditStep[];
  /** The whole section: control plane, creates and audits. */
  totalSeconds: number;
}

const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
const seconds = (ms: number) => Math.round(ms / 100) / 10;

export async function auditScale(
  total: number,
  cli: string,
  dir: string,
  log: (message: string) => void,
): Promise<AuditScaleResults> {
  const started = performance.now();
  const plane = await startControlPlane();
  const kubeConfig = new KubeConfig();
  try {
    // The PolicyReport CRD too: serve's background audit writes each namespace's, in parts.
    installCrds(plane, "v1.8", ["manifests/crds/"]);
    kubeConfig.loadFromFile(plane.kubeconfig);
    await createNamespaces(kubeConfig);
    const batch = apiClient(kubeConfig, BatchV1Api);
    const steps: AuditStep[] = [];
    let made = 0;
    for (const target of total > FIRST_STEP ? [FIRST_STEP, total] : [total]) {
      log(`audit: creating br-ent Jobs ${made} to ${target - 1}, ${WIDTH} requests at a time`);
      const createStarted = performance.now();
      const indexes = Array.from({ length: target - made }, (_, k) => made + k);
      await inParallel(indexes, WIDTH, (i) => {
        const body = auditJob(i, NAMESPACES);
        return batch.createNamespacedJob({ namespace: body.metadata.namespace, body });
      });
      const createMs = performance.now() - createStarted;
      const created = target - made;
      made = target;
      log(`audit: created ${created} Jobs in ${seconds(createMs)} s; running audit -A -o json`);
      const audit = await runAuditCli(plane, cli, dir, target, "json");
      log(`audit: ${target} Jobs, -o json: ${JSON.stringify(audit)}`);
      const table = await runAuditCli(plane, cli, dir, target, "table");
      log(`audit: ${target} Jobs, table: ${JSON.stringify(table)}`);
      log("audit: the background audit of serve");
      const serve = await serveAudit(plane, cli, dir);
      log(`audit: ${target} Jobs, serve: ${JSON.stringify(serve)}`);
      steps.push({
        jobs: target,
        created,
        createSeconds: seconds(createMs),
        createPerSecond: Math.round(created / (createMs / 1000)),
        etcdDbMiB: mib(await etcdDbBytes(plane)),
        cli: audit,
        cliTable: table,
        serve,
      });
    }
    const one = await batch.readNamespacedJob({
      namespace: auditNamespace(0, NAMESPACES),
      name: "backup-0",
    });
    return {
      pageSize: PAGE_SIZE,
      namespaces: NAMESPACES,
      nebulaClusters: NAMESPACES * 2,
      createConcurrency: WIDTH,
      storedBytesPerJob: Buffer.byteLength(JSON.stringify(one)),
      steps,
      totalSeconds: seconds(performance.now() - started),
    };
  } finally {
    await closeApiConnections(kubeConfig);
    stopControlPlane(plane);
  }
}

/** The namespaces, their two NebulaClusters, the S3 Secret and the pull secret the Jobs name. */
async function createNamespaces(kubeConfig: KubeConfig): Promise<void> {
  const core = apiClient(kubeConfig, CoreV1Api);
  const custom = apiClient(kubeConfig, CustomObjectsApi);
  const names = Array.from({ length: NAMESPACES }, (_, i) => auditNamespace(i, NAMESPACES));
  await inParallel(names, WIDTH, async (namespace) => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name: "aws-s3" },
        stringData: { "access-key": "AKIAEXAMPLE", "secret-key": "example" },
      },
    });
    await core.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name: "br-ent-secret" },
        type: "kubernetes.io/dockerconfigjson",
        stringData: { ".dockerconfigjson": '{"auths":{}}' },
      },
    });
    for (const body of auditClusters(namespace))
      await custom.createNamespacedCustomObject({
        group: "apps.nebula-graph.io",
        version: "v1alpha1",
        plural: "nebulaclusters",
        namespace,
        body,
      });
  });
}

/** `audit -A [-o json]` as its own process, its memory read by bench/audit-probe.ts at exit. */
async function runAuditCli(
  plane: ControlPlane,
  cli: string,
  dir: string,
  jobs: number,
  output: "json" | "table",
): Promise<AuditCliRun> {
  const outFile = `${dir}/audit-${jobs}.${output}`;
  const errFile = `${dir}/audit-${jobs}.${output}.err`;
  const probeFile = `${dir}/audit-${jobs}.${output}.probe.json`;
  const listsBefore = listRequests(plane);
  const out = openSync(outFile, "w");
  const err = openSync(errFile, "w");
  const started = performance.now();
  const child = spawn(
    process.execPath,
    ["--import", probe, cli, "audit", "-A", "-o", output, "--kubeconfig", plane.kubeconfig],
    {
      stdio: ["ignore", out, err],
      env: { ...process.env, BENCH_AUDIT_PROBE_OUT: probeFile },
    },
  );
  closeSync(out);
  closeSync(err);
  const exitCode = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  const wallMs = performance.now() - started;
  const listsAfter = listRequests(plane);
  const lists: Record<string, number> = {};
  for (const [resource, count] of Object.entries(listsAfter)) {
    const delta = count - (listsBefore[resource] ?? 0);
    if (delta > 0) lists[resource] = delta;
  }
  const memory = JSON.parse(readFileSync(probeFile, "utf8")) as {
    vmHwmKiB: number;
    heapUsedPeakBytes: number;
    heapTotalPeakBytes: number;
  };
  const summary = output === "json" ? readSummary(outFile) : readTableSummary(outFile);
  const run: AuditCliRun = {
    exitCode,
    wallSeconds: seconds(wallMs),
    audited: summary?.objects ?? 0,
    results: { pass: summary?.pass ?? 0, fail: summary?.fail ?? 0, warn: summary?.warn ?? 0 },
    ...(summary && output === "json" ? { objects: await worstPerObject(outFile) } : {}),
    listRequests: lists,
    outputMiB: mib(statSync(outFile).size),
    rssPeakMiB: Math.round((memory.vmHwmKiB / 1024) * 10) / 10,
    heapUsedPeakMiB: mib(memory.heapUsedPeakBytes),
    heapTotalPeakMiB: mib(memory.heapTotalPeakBytes),
  };
  if (!summary) run.error = readFileSync(errFile, "utf8").slice(-1500);
  await rm(outFile, { force: true });
  return run;
}

/** The `summary` the JSON output opens with, read from its first bytes. */
function readSummary(
  file: string,
): { objects: number; pass: number; fail: number; warn: number } | undefined {
  const fd = openSync(file, "r");
  const head = Buffer.alloc(4096);
  const length = readSync(fd, head, 0, head.length, 0);
  closeSync(fd);
  const match = head
    .subarray(0, length)
    .toString("utf8")
    .match(/"summary":\s*(\{[^}]*\})/);
  return match ? JSON.parse(match[1] as string) : undefined;
}

/** The last line of the table: `N objects audited in all namespaces: P pass, F fail, W warn`. */
function readTableSummary(
  file: string,
): { objects: number; pass: number; fail: number; warn: number } | undefined {
  const size = statSync(file).size;
  const fd = openSync(file, "r");
  const tail = Buffer.alloc(Math.min(size, 4096));
  const length = readSync(fd, tail, 0, tail.length, size - tail.length);
  closeSync(fd);
  const match = tail
    .subarray(0, length)
    .toString("utf8")
    .match(/(\d+) objects? audited[^:]*: (\d+) pass, (\d+) fail, (\d+) warn/);
  if (!match) return undefined;
  const [, objects, pass, fail, warn] = match.map(Number) as number[];
  return { objects: objects ?? 0, pass: pass ?? 0, fail: fail ?? 0, warn: warn ?? 0 };
}

/**
 * `serve` from the image's bundle with the image's node flags and its background audit on (no
 * Lease, one replica), held to the chart's memory limit in a memory cgroup when this machine
 * lets us make one, until it logs that the first run is done or failed, or dies; its peak RSS,
 * and the cgroup's peak charge and OOM kills.
 */
async function serveAudit(plane: ControlPlane, cli: string, dir: string): Promise<ServeAudit> {
  const limitBytes = chartMemoryLimitBytes();
  const limitMiB = Math.round(limitBytes / 2 ** 20);
  const cgroup = memoryCgroup(`nbw-bench-serve-${process.pid}`, limitBytes);
  let child: ChildProcess | undefined;
  let ended: string | undefined;
  try {
    const nodeFlags = cgroup.ok
      ? IMAGE_NODE_FLAGS
      : [...IMAGE_NODE_FLAGS, ...estimatedHeapFlags(limitBytes)];
    // In the cgroup, node's code and the bundle are charged to it as they are read, as in a pod.
    const copy = cgroup.ok ? uncachedCopy(process.execPath, dir, "node") : undefined;
    const node = copy?.ok ? copy.path : process.execPath;
    // Why node's code and the bundle are not charged to the group as read, if they are not.
    const notCharged = !copy ? undefined : copy.ok ? dropFromPageCache(cli) : copy.why;
    const port = await freePort();
    const args = [
      ...nodeFlags,
      cli,
      "serve",
      "--port",
      String(port),
      "--kubeconfig",
      plane.kubeconfig,
      "--audit-interval",
      "3600",
      "--audit-lease-duration",
      "0",
    ];
    const [command, commandArgs] = cgroup.ok ? cgroup.group.wrap(node, args) : [node, args];
    const logFile = `${dir}/serve-audit-${Date.now()}.log`;
    const out = openSync(logFile, "w");
    const started = spawn(command, commandArgs, {
      stdio: ["ignore", out, out],
      env: { ...process.env, ...IMAGE_ENV },
    });
    child = started;
    closeSync(out);
    started.once("exit", (code, signal) => {
      ended =
        code === JOIN_FAILED && cgroup.ok
          ? "could not join its cgroup"
          : signal
            ? `killed by ${signal}`
            : `exited with ${code}`;
    });
    started.once("error", (error) => {
      ended = `could not start: ${error.message}`;
    });
    const peak = { hwmKiB: 0, anonKiB: 0 };
    const sample = () => {
      try {
        const pid = started.pid as number;
        peak.hwmKiB = Math.max(peak.hwmKiB, processMemoryKiB(pid, "VmHWM"));
        peak.anonKiB = Math.max(peak.anonKiB, processMemoryKiB(pid, "RssAnon"));
      } catch {
        // it has just ended: the exit event says how
      }
    };
    const run = await (async (): Promise<
      Omit<ServeAudit, "rssPeakMiB" | "anonPeakMiB" | "nodeFlags" | "memoryLimit">
    > => {
      const until = Date.now() + SERVE_WAIT_SECONDS * 1000;
      while (Date.now() < until) {
        await sleep(500);
        if (ended) return { outcome: ended };
        sample();
        const line = readFileSync(logFile, "utf8")
          .split("\n")
          .find((l) => /"msg":"background audit (done|failed|could not write reports)"/.test(l));
        if (!line) continue;
        sample(); // VmHWM only rises: read once the run is over, it holds the whole run's peak
        const logged = JSON.parse(line) as Record<string, unknown>;
        if (logged.msg !== "background audit done")
          return { outcome: "failed", reason: String(logged.reason).slice(0, 600) };
        return {
          outcome: "done",
          auditMs: logged.ms as number,
          objects: logged.objects as number,
          results: logged.results as number,
          reports: {
            created: logged.created as number,
            updated: logged.updated as number,
            deleted: logged.deleted as number,
            unchanged: logged.unchanged as number,
          },
        };
      }
      return { outcome: `not done after ${SERVE_WAIT_SECONDS} s` };
    })();
    return {
      ...run,
      rssPeakMiB: Math.round((peak.hwmKiB / 1024) * 10) / 10,
      anonPeakMiB: Math.round((peak.anonKiB / 1024) * 10) / 10,
      nodeFlags,
      memoryLimit: cgroup.ok
        ? {
            how: `cgroup v${cgroup.group.version}`,
            limitMiB,
            peakChargeMiB: mibOrUndefined(cgroup.group.peakBytes()),
            limitHits: cgroup.group.limitHits(),
            oomKills: cgroup.group.oomKills(),
            filesCharged: notCharged ?? true,
          }
        : { how: "estimated", limitMiB, why: cgroup.why },
    };
  } finally {
    if (child && !ended) await stopProcess(child);
    const left = cgroup.ok ? cgroup.group.remove() : undefined;
    if (left) process.stderr.write(`${left}\n`);
  }
}

/** SIGTERM, then SIGKILL if it has not exited in 30 s; resolves once it has. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  await exited;
  clearTimeout(timer);
}

const mibOrUndefined = (bytes: number | undefined) =>
  bytes === undefined ? undefined : mib(bytes);

/**
 * Objects by their worst result, read line by line from the indented JSON (each entry's
 * `namespace` and `name` come before its `result`), so the bench never holds the document.
 */
async function worstPerObject(file: string): Promise<AuditCliRun["objects"]> {
  const worst = new Map<string, "pass" | "warn" | "fail">();
  const rank = { pass: 0, warn: 1, fail: 2 };
  let namespace = "";
  let name = "";
  for await (const line of createInterface({ input: createReadStream(file) })) {
    const field = line.match(/^\s*"(namespace|name|result)": "([^"]*)"/);
    if (!field) continue;
    if (field[1] === "namespace") namespace = field[2] as string;
    else if (field[1] === "name") name = field[2] as string;
    else {
      const key = `${namespace}/${name}`;
      const result = field[2] as "pass" | "warn" | "fail";
      const before = worst.get(key);
      if (!before || rank[result] > rank[before]) worst.set(key, result);
    }
  }
  const counts = { fail: 0, warnOnly: 0, pass: 0 };
  for (const result of worst.values())
    counts[result === "fail" ? "fail" : result === "warn" ? "warnOnly" : "pass"]++;
  return counts;
}

/** LIST requests the API server has answered so far, by resource (its own metric). */
function listRequests(plane: ControlPlane): Record<string, number> {
  const counts: Record<string, number> = {};
  // Not kubectlOk: the metrics are more than spawnSync's default 1 MiB buffer.
  const metrics = spawnSync(
    plane.kubectlBin,
    ["--kubeconfig", plane.kubeconfig, "get", "--raw", "/metrics"],
    { encoding: "utf8", maxBuffer: 256 * 2 ** 20, timeout: 60_000 },
  );
  if (metrics.status !== 0) throw new Error(`kubectl get --raw /metrics: ${metrics.stderr}`);
  for (const line of metrics.stdout.split("\n")) {
    if (!line.startsWith("apiserver_request_total{") || !line.includes('verb="LIST"')) continue;
    const resource = line.match(/resource="([^"]*)"/)?.[1] ?? "";
    counts[resource] = (counts[resource] ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return counts;
}

/** etcd's database size, against its default 2 GiB quota. */
async function etcdDbBytes(plane: ControlPlane): Promise<number> {
  const url = plane.env.ETCD_URL;
  if (!url) return 0;
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(text.match(/^etcd_mvcc_db_total_size_in_bytes (\S+)/m)?.[1] ?? 0);
}
