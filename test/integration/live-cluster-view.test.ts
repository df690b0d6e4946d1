import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { KubeConfig } from "@kubernetes/client-node";
import type { ClusterSnapshot } from "../../src/cluster-view/cluster-view.js";
import { LiveClusterView } from "../../src/cluster-view/live-view.js";
import { closeApiConnections } from "../../src/kube/api-client.js";
import { createLogger } from "../../src/log.js";
import { type ClusterApiServer, startClusterApiServer } from "../support/cluster-api-server.js";
import { until } from "../support/until.js";

// The live view against a stand-in API server that pages lists, streams watch events, and
// says "410 Gone" on cue (a real kube-apiserver does the same, but not on cue).

const CLUSTERS = 1_200;
/** The view asks for 100 NebulaClusters per page. */
const PAGES = CLUSTERS / 100;

/** A NebulaCluster as the operator stores it: the rules read a few fields of it. */
const cluster = (i: number, extra: Record<string, unknown> = {}) => ({
  apiVersion: "apps.nebula-graph.io/v1alpha1",
  kind: "NebulaCluster",
  metadata: { name: `cluster-${i}`, namespace: `ns-${i % 10}`, uid: `uid-${i}` },
  spec: {
    enableBR: i % 2 === 0,
    imagePullSecrets: [{ name: "br-ent-secret" }],
    metad: { replicas: 3, image: "vesoft/nebula-metad", version: "v3.8.0" },
    graphd: { replicas: 2, image: "vesoft/nebula-graphd", version: "v3.8.0" },
  },
  status: { version: "v3.8.0", metad: { phase: "Running" } },
  ...extra,
});

let api: ClusterApiServer;
let view: LiveClusterView | undefined;
let kubeConfig: KubeConfig;
const apiCalls: string[] = [];
let changes = 0;

beforeEach(async () => {
  api = await startClusterApiServer();
  for (let i = 0; i < CLUSTERS; i++) api.putCluster(cluster(i));
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(await api.kubeconfig(await mkdtemp(join(tmpdir(), "nbw-live-"))));
  apiCalls.length = 0;
  changes = 0;
});

afterEach(async () => {
  await view?.stop();
  view = undefined;
  await closeApiConnections(kubeConfig);
  await api.close();
});

const startView = () => {
  view = new LiveClusterView({
    kubeConfig,
    logger: createLogger("silent"),
    secretTimeoutMs: 2000,
    onApiCall: (verb, resource) => apiCalls.push(`${verb} ${resource}`),
    onChange: () => changes++,
  });
  return view;
};

const snapshot = (v: LiveClusterView): Promise<ClusterSnapshot> =>
  v.snapshot([], new AbortController().signal);

describe("the live cluster view", () => {
  it("lists NebulaClusters in pages of 100, and is synced only when the last page arrived", async () => {
    const release = api.holdListPagesAfterFirst();
    const v = startView();
    const started = v.start();
    await until(() => api.lists().length === 2, "the second page is asked for");
    assert.equal(v.isSynced(), false);
    const before = (await snapshot(v)).nebulaCluster("ns-0", "cluster-0");
    assert.equal(before.state, "unavailable");
    release();
    await started;
    assert.equal(v.isSynced(), true);
    const lists = api.lists();
    assert.deepEqual(
      lists.map((r) => r.query.get("limit")),
      Array(PAGES).fill("100"),
    );
    assert.equal(lists[0]?.query.get("continue"), null);
    assert.ok(lists.slice(1).every((r) => r.query.get("continue")));
    assert.deepEqual(apiCalls, Array(PAGES).fill("list nebulaclusters"));
    assert.equal(v.nebulaClusters().length, CLUSTERS);
    assert.equal(changes, 1, "one change for the whole list");
  });

  it("keeps the facts the rules read, and nothing else of the object", async () => {
    const v = startView();
    await v.start();
    const found = (await snapshot(v)).nebulaCluster("ns-4", "cluster-4");
    assert.deepEqual(found, {
      state: "found",
      value: {
        namespace: "ns-4",
        name: "cluster-4",
        enableBR: true,
        imagePullSecrets: ["br-ent-secret"],
        metadPort: undefined,
      },
    });
    assert.equal((await snapshot(v)).nebulaCluster("ns-4", "cluster-missing").state, "absent");
  });

  it("follows additions, changes and deletions; a status-only change is no change", async () => {
    const v = startView();
    await v.start();
    changes = 0;
    await until(() => api.watches().length === 1, "the watch is open");
    api.putCluster(cluster(CLUSTERS));
    api.putCluster(cluster(0, { spec: { enableBR: false } }));
    api.deleteCluster("ns-1", "cluster-1");
    await until(async () => {
      const s = await snapshot(v);
      return (
        s.nebulaCluster("ns-0", `cluster-${CLUSTERS}`).state === "found" &&
        s.nebulaCluster("ns-1", "cluster-1").state === "absent"
      );
    }, "the events arrived");
    const changed = (await snapshot(v)).nebulaCluster("ns-0", "cluster-0");
    assert.equal(changed.state === "found" && changed.value.enableBR, false);
    assert.equal(changes, 3);
    api.putCluster(cluster(2, { status: { version: "v3.8.0", metad: { phase: "Updating" } } }));
    await sleep(200);
    assert.equal(changes, 3, "status is not read by any rule");
  });

  it("resumes the watch from the last resourceVersion it saw, without listing again", async () => {
    const v = startView();
    await v.start();
    await until(() => api.watches().length === 1, "the watch is open");
    api.putCluster(cluster(7, { spec: { enableBR: false } }));
    await until(async () => {
      const s = (await snapshot(v)).nebulaCluster("ns-7", "cluster-7");
      return s.state === "found" && !s.value.enableBR;
    }, "the change arrived");
    api.endWatches();
    await until(() => api.watches().length === 2, "the watch is resumed");
    const resumed = api.watches()[1]?.query;
    assert.equal(resumed?.get("resourceVersion"), String(100 + CLUSTERS + 1));
    assert.equal(api.lists().length, PAGES, "no new list");
  });

  it("lists again when the API server says the resourceVersion is gone (410)", async () => {
    const v = startView();
    await v.start();
    await until(() => api.watches().length === 1, "the watch is open");
    const stop = api.watches().length;
    // While the view is not watching, a cluster goes away and the history is compacted.
    api.endWatches();
    api.deleteCluster("ns-3", "cluster-3");
    api.compact();
    await until(() => api.lists().length === 2 * PAGES, "the view lists again");
    await until(async () => {
      return (await snapshot(v)).nebulaCluster("ns-3", "cluster-3").state === "absent";
    }, "the deletion is seen");
    assert.ok(api.watches().length > stop);
    assert.equal(v.isSynced(), true);
  });

  it("starts over when a continue token expires while paging", async () => {
    const release = api.holdListPagesAfterFirst();
    const v = startView();
    const started = v.start();
    await until(() => api.lists().length === 2, "the second page is asked for");
    api.putCluster(cluster(CLUSTERS));
    api.compact();
    release();
    await started;
    assert.equal(v.nebulaClusters().length, CLUSTERS + 1);
    const firstPages = api.lists().filter((r) => r.query.get("continue") === null);
    assert.equal(firstPages.length, 2, "the list started over once");
  });

  it("reads a Secret from the API server's watch cache (resourceVersion=0) when asked, from etcd otherwise", async () => {
    api.putSecret("ns-1", "aws-s3-secret", ["access-key", "secret-key"]);
    const v = startView();
    const ref = [{ namespace: "ns-1", name: "aws-s3-secret" }];
    const signal = new AbortController().signal;
    const secretGets = () =>
      api.requests.filter((r) => r.path === "/api/v1/namespaces/ns-1/secrets/aws-s3-secret");
    const cached = await v.snapshot(ref, signal, [], "cached");
    const latest = await v.snapshot(ref, signal);
    for (const snap of [cached, latest]) {
      const secret = snap.secret("ns-1", "aws-s3-secret");
      assert.equal(secret.state, "found");
      assert.deepEqual(secret.state === "found" && secret.value.keys, ["access-key", "secret-key"]);
    }
    assert.deepEqual(
      secretGets().map((r) => r.query.get("resourceVersion")),
      ["0", null],
    );
  });

  it("reads a NebulaBackup by its own path, always from etcd", async () => {
    api.putNebulaBackup({
      apiVersion: "apps.nebula-graph.io/v1alpha1",
      kind: "NebulaBackup",
      metadata: { name: "nightly", namespace: "ns-2", uid: "uid-nightly" },
      spec: { config: { clusterName: "cluster-2" } },
    });
    const v = startView();
    const refs = [
      { namespace: "ns-2", name: "nightly" },
      { namespace: "ns-2", name: "gone" },
    ];
    const snap = await v.snapshot([], new AbortController().signal, refs, "cached");
    const backup = snap.nebulaBackup("ns-2", "nightly");
    assert.equal(backup.state, "found");
    assert.deepEqual(backup.state === "found" && backup.value, {
      namespace: "ns-2",
      name: "nightly",
      uid: "uid-nightly",
      clusterName: "cluster-2",
      clusterNamespace: "ns-2",
    });
    assert.equal(snap.nebulaBackup("ns-2", "gone").state, "absent");
    const gets = api.requests.filter((r) => r.path.includes("/nebulabackups/"));
    assert.deepEqual(
      gets.map((r) => [r.path, r.query.get("resourceVersion")]),
      [
        ["/apis/apps.nebula-graph.io/v1alpha1/namespaces/ns-2/nebulabackups/nightly", null],
        ["/apis/apps.nebula-graph.io/v1alpha1/namespaces/ns-2/nebulabackups/gone", null],
      ],
    );
  });

  it("reads many Secrets on one signal with one listener on it, removed once they are read", async () => {
    // An audit page reads up to 500 Secrets on one signal: a listener each would pass
    // EventTarget's limit of 10 and print a leak warning.
    const refs = Array.from({ length: 30 }, (_, i) => ({ namespace: "ns-3", name: `s-${i}` }));
    for (const ref of refs) api.putSecret(ref.namespace, ref.name, ["access-key"]);
    const v = startView();
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    const controller = new AbortController();
    let most = 0;
    const watching = setInterval(() => {
      most = Math.max(most, getEventListeners(controller.signal, "abort").length);
    }, 0);
    try {
      const snap = await v.snapshot(refs, controller.signal);
      for (const ref of refs) assert.equal(snap.secret(ref.namespace, ref.name).state, "found");
      await sleep(10); // a warning is emitted on the next tick
    } finally {
      clearInterval(watching);
      process.off("warning", onWarning);
    }
    assert.deepEqual(
      warnings.map((w) => w.name),
      [],
    );
    assert.ok(most <= 1, `at most one listener while reading, saw ${most}`);
    assert.equal(getEventListeners(controller.signal, "abort").length, 0);
  });

  it("reads a Secret again when the API server asks it to (429, 503), after the wait it names", async () => {
    api.putSecret("ns-4", "aws", ["access-key"]);
    const v = startView();
    const ref = [{ namespace: "ns-4", name: "aws" }];
    const reads = () =>
      api.requests.filter((r) => r.path === "/api/v1/namespaces/ns-4/secrets/aws");
    for (const code of [429, 503]) {
      const before = reads().length;
      api.refuseNextRead(code, 1);
      const started = performance.now();
      const snap = await v.snapshot(ref, new AbortController().signal);
      const waited = performance.now() - started;
      assert.equal(snap.secret("ns-4", "aws").state, "found", `after ${code}`);
      assert.equal(reads().length - before, 2, `one read refused with ${code}, one answered`);
      assert.ok(waited >= 900, `waited the second the API server named, not ${waited} ms`);
    }
  });

  it("a read the API server asks to repeat later than the time-out is `unavailable` at once, and not sent again", async () => {
    api.putSecret("ns-4", "aws", ["access-key"]);
    const v = new LiveClusterView({
      kubeConfig,
      logger: createLogger("silent"),
      secretTimeoutMs: 500,
    });
    view = v;
    const reads = () =>
      api.requests.filter((r) => r.path === "/api/v1/namespaces/ns-4/secrets/aws");
    api.refuseNextRead(503, 1);
    const started = performance.now();
    const snap = await v.snapshot(
      [{ namespace: "ns-4", name: "aws" }],
      new AbortController().signal,
    );
    const waited = performance.now() - started;
    const secret = snap.secret("ns-4", "aws");
    assert.equal(secret.state, "unavailable", "the retry's wait is longer than the time-out");
    assert.equal(
      secret.state === "unavailable" ? secret.reason : "",
      "reading the Secret failed: the API server answered HTTP 503",
    );
    assert.ok(waited < 400, `answered without waiting for the time-out: ${waited} ms`);
    await sleep(1200); // past the wait the API server named
    assert.equal(reads().length, 1, "no read sent after nobody waits for it");
  });

  it("keeps the path of a server URL behind a proxy that routes by path, for lists, watches and reads", async () => {
    api.putSecret("ns-5", "aws", ["access-key"]);
    const proxied = new KubeConfig();
    proxied.loadFromFile(await api.kubeconfig(await mkdtemp(join(tmpdir(), "nbw-live-")), true));
    const v = new LiveClusterView({
      kubeConfig: proxied,
      logger: createLogger("silent"),
      secretTimeoutMs: 2000,
    });
    try {
      await v.start();
      const snap = await v.snapshot(
        [{ namespace: "ns-5", name: "aws" }],
        new AbortController().signal,
      );
      assert.equal(snap.secret("ns-5", "aws").state, "found");
      assert.equal(snap.nebulaCluster("ns-1", "cluster-1").state, "found");
      await until(() => api.watches().length > 0, "the watch is open");
      assert.deepEqual(
        api.requests.filter((r) => !r.proxied).map((r) => r.path),
        [],
        "every request went through the proxy's path",
      );
    } finally {
      await v.stop();
      await closeApiConnections(proxied);
    }
  });

  it("sends nothing for a namespace or name no object can have, and finds no Secret", async () => {
    const v = startView();
    const refs = [
      { namespace: "..", name: ".." },
      { namespace: "ns-1", name: "a/b" },
      { namespace: "ns-1?x=1", name: "s" },
    ];
    const snap = await v.snapshot(refs, new AbortController().signal);
    for (const ref of refs) assert.equal(snap.secret(ref.namespace, ref.name).state, "absent");
    const clusters = "/apis/apps.nebula-graph.io/v1alpha1/nebulaclusters";
    assert.deepEqual(
      api.requests.filter((r) => r.path !== clusters),
      [],
    );
  });

  it("answers `unavailable` until a list succeeds, then syncs by itself", async () => {
    api.failLists(500);
    const v = startView();
    await assert.rejects(v.start());
    const lookup = (await snapshot(v)).nebulaCluster("ns-0", "cluster-0");
    assert.equal(lookup.state, "unavailable");
    assert.match(lookup.state === "unavailable" ? lookup.reason : "", /HTTP 500/);
    assert.equal(v.isSynced(), false);
    api.failLists(undefined);
    await until(() => v.isSynced(), "the view syncs after the API server recovers");
    assert.equal((await snapshot(v)).nebulaCluster("ns-0", "cluster-0").state, "found");
  });
});
