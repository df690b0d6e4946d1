/**
 * What a user feels: server-side dry-run creates through the real kube-apiserver, over one
 * kept-alive client connection, in namespaces with no policy, with a ValidatingAdmissionPolicy
 * (the in-server reference), with do-nothing webhooks (the floor, and the floor giving the
 * webhook's answers) and with the webhook; interleaved rounds so that all of them see the same
 * machine. Also the CPU each create costs the API server and whatever answers.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { Agent, request } from "node:https";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { KubeConfig } from "@kubernetes/client-node";
import { parseAllDocuments, stringify } from "yaml";
import type { KubeObject } from "../src/kube/objects.js";
import { type ControlPlane, kubectlOk, webhookConfigurations } from "../test/e2e/harness.js";
import { processCpuMs, runQueueWaitMs } from "../test/support/measure.js";
import { brWorkload, restoreV18, type Target } from "./requests.js";
import {
  API_SERVER_WEBHOOK_SECONDS,
  type Tallies,
  talliesBy,
  talliesSince,
} from "./webhook-histograms.js";

/**
 * No policy; a ValidatingAdmissionPolicy; a do-nothing https webhook (bench/baseline-server.ts)
 * behind the webhook's own configurations and matchConditions, the floor any webhook so
 * registered pays; the same server giving the webhook's own answers, looked up (what the API
 * server spends on applying them, apart from what the webhook spends on reaching them); and
 * the webhook.
 */
export const VARIANTS = ["none", "vap", "floor", "answer", "webhook"] as const;
export type Variant = (typeof VARIANTS)[number];
/** The variants also measured after idle gaps: "answer" only splits the rounds' figures. */
export const IDLE_VARIANTS = ["none", "vap", "floor", "webhook"] as const;
export type IdleVariant = (typeof IDLE_VARIANTS)[number];
export const OBJECTS = ["restore", "brJob"] as const;
export type ObjectName = (typeof OBJECTS)[number];

const LABEL = "nebula-br-bench/policy";
const namespaceOf = (variant: Variant) => `bench-${variant}`;

/** Read from the webhook's /metrics (webhook-histograms.ts). */
export interface WebhookTallies {
  /** Garbage collections by kind (minor, major, incremental, weakcb). */
  readonly gc: Tallies;
  /** The webhook's own time per answer, by stage (mutate, validate). */
  readonly answers: Tallies;
}

export interface Batch {
  readonly latenciesMs: number[];
  readonly errors: number;
  readonly apiServerCpuMs: number;
  readonly webhookCpuMs: number;
  /** How long, per create, whatever answers waited runnable for its CPU (see runQueueWaitMs). */
  readonly serverWaitMs: number | undefined;
}

export interface Comparison {
  readonly rounds: number;
  readonly perRound: number;
  /** TCP connections the webhook holds to the API server once all the creates are done. */
  readonly webhookConnectionsToApiServer: number;
  /** [object][variant] → one batch per round. */
  readonly batches: Record<ObjectName, Record<Variant, Batch[]>>;
  /** How long every connection was left idle before each create of `afterIdle`. */
  readonly idleGapMs: number;
  /** [object][variant] → the latency of each create made after `idleGapMs` of quiet. */
  readonly afterIdle: Record<ObjectName, Record<IdleVariant, number[]>>;
  /** New connections the API server opened to the webhook for those creates. */
  readonly idleConnectionsOpened: number;
  /** The webhook's collections (by kind) and own time per answer (by stage) during the rounds. */
  readonly webhookDuringRounds: WebhookTallies;
  /**
   * The API server's own timing of its calls to the webhooks during the rounds, by
   * `<variant>/<type>` (floor, answer or webhook; admit or validating).
   */
  readonly apiServerCallsDuringRounds: Tallies;
}

/**
 * The namespaces, each with a NebulaCluster "nebula" (operator-sized, BR enabled) and the
 * Secret its restores read; the policy and its binding; the webhook registered for
 * bench-webhook only, the do-nothing servers for bench-floor and bench-answer only.
 */
export function prepare(
  plane: ControlPlane,
  ports: { webhook: number; floor: number; answer: number },
  ca: string,
  clusterWithStatus: (name: string, namespace: string) => KubeObject,
): void {
  const objects: unknown[] = [];
  for (const variant of VARIANTS) {
    const namespace = namespaceOf(variant);
    objects.push(
      {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: namespace, labels: { [LABEL]: variant } },
      },
      clusterWithStatus("nebula", namespace),
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "aws-s3-v18", namespace },
        type: "Opaque",
        stringData: { access_key: "bench-access-key", secret_key: "bench-secret-key" },
      },
    );
  }
  objects.push(...admissionPolicy());
  kubectlOk(plane, ["apply", "-f", "-"], objects.map((o) => stringify(o)).join("---\n"));
  kubectlOk(plane, ["apply", "-f", "-"], webhooksFor(ports.webhook, ca, "webhook"));
  kubectlOk(plane, ["apply", "-f", "-"], webhooksFor(ports.floor, ca, "floor"));
  kubectlOk(plane, ["apply", "-f", "-"], webhooksFor(ports.answer, ca, "answer"));
}

/** The shipped webhook configurations, limited to the namespaces labelled `variant`. */
function webhooksFor(port: number, ca: string, variant: Variant): string {
  return parseAllDocuments(webhookConfigurations(port, ca))
    .map((document) => {
      const config = document.toJS() as {
        metadata: { name: string };
        webhooks?: { name: string; namespaceSelector?: object }[];
      };
      if (variant !== "webhook") config.metadata.name = `${config.metadata.name}-${variant}`;
      for (const webhook of config.webhooks ?? []) {
        if (variant !== "webhook") webhook.name = `${variant}.${webhook.name}`;
        webhook.namespaceSelector = {
          ...webhook.namespaceSelector,
          matchLabels: { [LABEL]: variant },
        };
      }
      return stringify(config);
    })
    .join("---\n");
}

/**
 * A ValidatingAdmissionPolicy of about what the webhook checks without I/O: a Job running
 * br-ent names its cluster; a restore names its cluster, backup and Secret.
 */
function admissionPolicy(): unknown[] {
  const policy = (name: string, resources: object, expressions: string[]) => [
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata: { name },
      spec: {
        failurePolicy: "Fail",
        matchConstraints: { resourceRules: [resources] },
        validations: expressions.map((expression) => ({ expression })),
      },
    },
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicyBinding",
      metadata: { name },
      spec: {
        policyName: name,
        validationActions: ["Deny"],
        matchResources: { namespaceSelector: { matchLabels: { [LABEL]: "vap" } } },
      },
    },
  ];
  return [
    ...policy(
      "bench-br-jobs",
      { apiGroups: ["batch"], apiVersions: ["v1"], resources: ["jobs"], operations: ["CREATE"] },
      [
        "!object.spec.template.spec.containers.exists(c, (has(c.image) && c.image.contains('br-ent')) || (has(c.command) && c.command.exists(w, w.contains('br-ent')))) || (has(object.metadata.labels) && 'app.kubernetes.io/cluster' in object.metadata.labels)",
        "!object.spec.template.spec.containers.exists(c, has(c.command) && c.command.exists(w, w.contains('br-ent') && !w.contains('--storage')))",
      ],
    ),
    ...policy(
      "bench-restores",
      {
        apiGroups: ["apps.nebula-graph.io"],
        apiVersions: ["v1alpha1"],
        resources: ["nebularestores"],
        operations: ["CREATE", "UPDATE"],
      },
      [
        "has(object.spec.config) && has(object.spec.config.clusterName) && object.spec.config.clusterName != ''",
        "has(object.spec.config.backupName) && object.spec.config.backupName.matches('^BACKUP_[0-9]{4}(_[0-9]{2}){5}$')",
        "!has(object.spec.config.s3) || (has(object.spec.config.s3.secretName) && object.spec.config.s3.secretName != '')",
      ],
    ),
  ];
}

/** Where each object is created, and object `i` of it aimed at `target`'s cluster. */
const CREATED: Record<
  ObjectName,
  { groupVersion: string; plural: string; make: (i: number, target: Target) => KubeObject }
> = {
  brJob: { groupVersion: "batch/v1", plural: "jobs", make: (i, t) => brWorkload("Job", i, t) },
  restore: {
    groupVersion: "apps.nebula-graph.io/v1alpha1",
    plural: "nebularestores",
    make: (i, t) => restoreV18(i, t, "aws-s3-v18"),
  },
};

/** Object `i` of its kind in `variant`'s namespace, as the bench creates it. */
function benchObject(object: ObjectName, variant: Variant, i: number): KubeObject {
  return CREATED[object].make(i, { namespace: namespaceOf(variant), cluster: "nebula" });
}

/** A dry-run create: its path and body for object `i` in `variant`'s namespace. */
function createRequest(object: ObjectName, variant: Variant, i: number) {
  const { groupVersion, plural } = CREATED[object];
  return {
    path: `/apis/${groupVersion}/namespaces/${namespaceOf(variant)}/${plural}?dryRun=All`,
    body: JSON.stringify(benchObject(object, variant, i)),
  };
}

const WARM_UP = 30;

/** The objects the "answer" variant creates in a whole comparison, warm-up included. */
export function answerVariantObjects(rounds: number, perRound: number): KubeObject[] {
  const creates = WARM_UP + rounds * perRound;
  return OBJECTS.flatMap((object) =>
    Array.from({ length: creates }, (_, i) => benchObject(object, "answer", i)),
  );
}

/** Per create, or undefined when either reading is missing. */
const waitsSince = (before: number | undefined, after: number | undefined, count: number) =>
  before === undefined || after === undefined ? undefined : (after - before) / count;

/** Sockets (inodes) of process `pid`. */
function socketsOf(pid: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const inode = readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/)?.[1];
      if (inode) inodes.add(inode);
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/** Established TCP connections on this machine: [local, remote, inode] (Linux /proc). */
function* established(): Generator<[string, string, string]> {
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is field 1, rem_address 2, st 3 (01: established), inode 9.
      if (f[3] === "01") yield [f[1] ?? "", f[2] ?? "", f[9] ?? ""];
    }
  }
}

const hexPort = (port: number) => `:${port.toString(16).toUpperCase().padStart(4, "0")}`;

/** Established TCP connections of process `pid` to `port` on 127.0.0.1. */
function connectionsTo(pid: number, port: number): number {
  const inodes = socketsOf(pid);
  let count = 0;
  for (const [, remote, inode] of established())
    if (remote.endsWith(hexPort(port)) && inodes.has(inode)) count++;
  return count;
}

/** The client ends (address:port) of the connections established to local `port` now. */
function clientsOf(port: number): string[] {
  const clients: string[] = [];
  for (const [local, remote] of established())
    if (local.endsWith(hexPort(port))) clients.push(remote);
  return clients;
}

/** One kept-alive TLS connection to the API server, as kubectl's admin. */
function apiServerClient(plane: ControlPlane) {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(plane.kubeconfig);
  const cluster = kubeConfig.getCurrentCluster();
  const user = kubeConfig.getCurrentUser();
  if (!cluster || !user?.certData || !user.keyData || !cluster.caData)
    throw new Error("the e2e kubeconfig has no embedded certificates");
  const url = new URL(cluster.server);
  const agent = new Agent({
    keepAlive: true,
    maxSockets: 1,
    ca: Buffer.from(cluster.caData, "base64"),
    cert: Buffer.from(user.certData, "base64"),
    key: Buffer.from(user.keyData, "base64"),
  });
  const post = (path: string, body: string) =>
    new Promise<{ status: number; ms: number; text: string }>((resolve) => {
      const started = performance.now();
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path,
          method: "POST",
          agent,
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              ms: performance.now() - started,
              text: Buffer.concat(chunks).toString("utf8"),
            }),
          );
        },
      );
      req.on("error", (error) => resolve({ status: 0, ms: 0, text: error.message }));
      req.end(body);
    });
  return { post, close: () => agent.destroy(), port: Number(url.port) };
}

/**
 * `rounds` rounds; in each, for each object, `perRound` sequential creates per variant, the
 * variants in a different order each round. Then `idle.samples` creates per object and
 * variant, each after `idle.gapMs` in which nothing was admitted: how users mostly meet a
 * webhook, one `kubectl apply` now and then, on connections that sat idle.
 */
export async function compare(
  plane: ControlPlane,
  pids: { webhook: number; floor: number; answer: number },
  webhookPort: number,
  rounds: number,
  perRound: number,
  idle: { samples: number; gapMs: number },
  webhookTallies: () => Promise<WebhookTallies>,
  log: (message: string) => void,
): Promise<Comparison> {
  const apiServerPid = Number(readFileSync(join(plane.dir, "kube-apiserver.pid"), "utf8").trim());
  const client = apiServerClient(plane);
  const empty = <T, V extends string>(variants: readonly V[]) =>
    Object.fromEntries(variants.map((variant) => [variant, []])) as unknown as Record<V, T[]>;
  const batches: Record<ObjectName, Record<Variant, Batch[]>> = {
    restore: empty<Batch, Variant>(VARIANTS),
    brJob: empty<Batch, Variant>(VARIANTS),
  };
  const afterIdle: Record<ObjectName, Record<IdleVariant, number[]>> = {
    restore: empty<number, IdleVariant>(IDLE_VARIANTS),
    brJob: empty<number, IdleVariant>(IDLE_VARIANTS),
  };
  let idleConnectionsOpened = 0;
  let webhookDuringRounds: WebhookTallies = { gc: {}, answers: {} };
  let apiServerCallsDuringRounds: Tallies = {};
  // Each object and variant counts its own creates: the "answer" variant's are then the ones
  // of answerVariantObjects.
  const counters = new Map<string, number>();
  const next = (object: ObjectName, variant: Variant) => {
    const i = counters.get(`${object}/${variant}`) ?? 0;
    counters.set(`${object}/${variant}`, i + 1);
    return createRequest(object, variant, i);
  };
  const failures: string[] = [];
  const batch = async (object: ObjectName, variant: Variant, count: number): Promise<Batch> => {
    const latenciesMs: number[] = [];
    let errors = 0;
    // The CPU of whatever answers: the do-nothing servers for theirs, else the webhook.
    const serverPid = variant === "floor" || variant === "answer" ? pids[variant] : pids.webhook;
    const apiBefore = processCpuMs(apiServerPid);
    const webhookBefore = processCpuMs(serverPid);
    const waitBefore = runQueueWaitMs(serverPid);
    for (let i = 0; i < count; i++) {
      const { path, body } = next(object, variant);
      const answer = await client.post(path, body);
      if (answer.status === 201) latenciesMs.push(answer.ms);
      else {
        errors++;
        if (failures.length < 3)
          failures.push(`${object} ${variant}: ${answer.status} ${answer.text.slice(0, 300)}`);
      }
    }
    return {
      latenciesMs,
      errors,
      apiServerCpuMs: (processCpuMs(apiServerPid) - apiBefore) / count,
      webhookCpuMs: (processCpuMs(serverPid) - webhookBefore) / count,
      serverWaitMs: waitsSince(waitBefore, runQueueWaitMs(serverPid), count),
    };
  };
  try {
    // Warm-up: connections (API server → webhook), caches, JIT; not counted.
    for (const object of OBJECTS)
      for (const variant of VARIANTS) await batch(object, variant, WARM_UP);
    const talliesBefore = await webhookTallies();
    const callsBefore = apiServerWebhookCalls(plane);
    for (let round = 0; round < rounds; round++) {
      const turn = round % VARIANTS.length;
      const order = [...VARIANTS.slice(turn), ...VARIANTS.slice(0, turn)];
      for (const object of OBJECTS)
        for (const variant of order)
          batches[object][variant].push(await batch(object, variant, perRound));
      log(`through the API server: round ${round + 1}/${rounds} done`);
    }
    const talliesAfter = await webhookTallies();
    apiServerCallsDuringRounds = talliesSince(callsBefore, apiServerWebhookCalls(plane));
    webhookDuringRounds = {
      gc: talliesSince(talliesBefore.gc, talliesAfter.gc),
      answers: talliesSince(talliesBefore.answers, talliesAfter.answers),
    };
    // Each connection the API server opens to the webhook has a client port of its own.
    const apiServerConnections = new Set(clientsOf(webhookPort));
    const connectionsBefore = apiServerConnections.size;
    for (let sample = 0; sample < idle.samples; sample++) {
      await sleep(idle.gapMs);
      // Our own connection to the API server may have been closed meanwhile: a create no
      // webhook sees opens it again, so the measured ones pay only their admission's idle cost.
      const warm = next("brJob", "none");
      await client.post(warm.path, warm.body);
      for (const object of OBJECTS) {
        for (const variant of IDLE_VARIANTS) {
          const { path, body } = next(object, variant);
          const answer = await client.post(path, body);
          if (variant === "webhook")
            for (const peer of clientsOf(webhookPort)) apiServerConnections.add(peer);
          if (answer.status === 201) afterIdle[object][variant].push(answer.ms);
          else if (failures.length < 3)
            failures.push(
              `${object} ${variant} after idle: ${answer.status} ${answer.text.slice(0, 300)}`,
            );
        }
      }
    }
    idleConnectionsOpened = apiServerConnections.size - connectionsBefore;
    log(`through the API server: ${idle.samples} creates each after ${idle.gapMs} ms idle done`);
  } finally {
    client.close();
  }
  if (failures.length > 0) log(`through the API server: failures, e.g. ${failures.join(" | ")}`);
  const webhookConnectionsToApiServer = connectionsTo(pids.webhook, client.port);
  return {
    rounds,
    perRound,
    webhookConnectionsToApiServer,
    batches,
    idleGapMs: idle.gapMs,
    afterIdle,
    idleConnectionsOpened,
    webhookDuringRounds,
    apiServerCallsDuringRounds,
  };
}

/** The API server's histogram of its webhook calls, by the variant the webhook belongs to. */
function apiServerWebhookCalls(plane: ControlPlane): Tallies {
  const text = kubectlOk(plane, ["get", "--raw", "/metrics"]);
  return talliesBy(text, API_SERVER_WEBHOOK_SECONDS, (labels) => {
    const name = labels.name ?? "";
    const variant = VARIANTS.find((v) => name.startsWith(`${v}.`)) ?? "webhook";
    return `${variant}/${labels.type ?? "?"}`;
  });
}
