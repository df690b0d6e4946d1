import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { LiveClusterView } from "../../src/cluster-view/live-view.js";
import { apiClient, closeApiConnections } from "../../src/kube/api-client.js";
import { createLogger } from "../../src/log.js";
import { type ClusterApiServer, startClusterApiServer } from "../support/cluster-api-server.js";

// A stand-in API server over HTTPS with a client certificate, as in a cluster: it counts TLS
// connections, which is what each new connection costs (a handshake with a certificate).

const GETS = 20;

/** A millisecond apart, as admissions arrive (see the back-to-back case below). */
const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 1));
let api: ClusterApiServer;
let kubeconfig: string;

before(async () => {
  api = await startClusterApiServer();
  api.putSecret("nebula", "aws-s3-secret", ["access-key", "secret-key"]);
  api.putCluster({
    apiVersion: "apps.nebula-graph.io/v1alpha1",
    kind: "NebulaCluster",
    metadata: { name: "nebula", namespace: "nebula" },
    spec: { enableBR: true },
  });
  kubeconfig = await api.kubeconfig(await mkdtemp(join(tmpdir(), "nbw-conn-")));
});
after(() => api.close());

const loaded = () => {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfig);
  return kubeConfig;
};

const liveView = (kubeConfig: KubeConfig) =>
  new LiveClusterView({ kubeConfig, logger: createLogger("silent"), secretTimeoutMs: 2000 });

/** The view's snapshot with the Secret a restore reads. */
const withSecret = (view: LiveClusterView) =>
  view.snapshot([{ namespace: "nebula", name: "aws-s3-secret" }], new AbortController().signal);

describe("one kept-alive connection pool per KubeConfig", () => {
  it(`${GETS} Secret GETs one after another open one TLS connection, not ${GETS}`, async (t) => {
    const kubeConfig = loaded();
    const core = apiClient(kubeConfig, CoreV1Api);
    const before = api.connections();
    for (let i = 0; i < GETS; i++) {
      await nextTurn();
      const secret = await core.readNamespacedSecret({
        name: "aws-s3-secret",
        namespace: "nebula",
      });
      assert.deepEqual(Object.keys(secret.data ?? {}), ["access-key", "secret-key"]);
    }
    assert.equal(api.connections() - before, 1);
    await closeApiConnections(kubeConfig);

    // What this replaces: client-node's own makeApiClient, a new connection per call.
    const plain = kubeConfig.makeApiClient(CoreV1Api);
    const plainBefore = api.connections();
    for (let i = 0; i < GETS; i++)
      await plain.readNamespacedSecret({ name: "aws-s3-secret", namespace: "nebula" });
    t.diagnostic(
      `client-node's makeApiClient: ${api.connections() - plainBefore} connections for ${GETS} GETs; apiClient: 1`,
    );
  });

  it("every client made from one KubeConfig shares the pool", async () => {
    const kubeConfig = loaded();
    const before = api.connections();
    for (let i = 0; i < GETS; i++) {
      await nextTurn();
      // A new client object each time, as the audit makes them per run.
      await apiClient(kubeConfig, CoreV1Api).readNamespacedSecret({
        name: "aws-s3-secret",
        namespace: "nebula",
      });
    }
    assert.equal(api.connections() - before, 1);
    await closeApiConnections(kubeConfig);
  });

  it("back to back, with no pause at all, still a constant number: at most two", async () => {
    // undici hands a connection back to its pool a few event-loop turns after a response
    // ends: a request sent at once finds it busy and opens a second one, then kept too.
    const kubeConfig = loaded();
    const core = apiClient(kubeConfig, CoreV1Api);
    const before = api.connections();
    for (let i = 0; i < GETS; i++)
      await core.readNamespacedSecret({ name: "aws-s3-secret", namespace: "nebula" });
    assert.ok(api.connections() - before <= 2, `${api.connections() - before} connections`);
    await closeApiConnections(kubeConfig);
  });

  it("a Secret GET after a pause longer than undici's 4 s still finds its connection open", async () => {
    // Restores come seconds or minutes apart: each one's Secret read should not pay a new
    // TLS handshake with the client certificate. (The API server keeps it 90 s.)
    const kubeConfig = loaded();
    const core = apiClient(kubeConfig, CoreV1Api);
    const read = () => core.readNamespacedSecret({ name: "aws-s3-secret", namespace: "nebula" });
    const before = api.connections();
    await read();
    // undici's timers tick about every 0.5 s: well past its 4 s.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    await read();
    assert.equal(api.connections() - before, 1);
    await closeApiConnections(kubeConfig);
  });

  it("the live cluster view lists, watches and reads Secrets over at most two connections", async () => {
    const kubeConfig = loaded();
    const before = api.connections();
    const view = liveView(kubeConfig);
    await view.start();
    try {
      for (let i = 0; i < GETS; i++) {
        await nextTurn();
        const snapshot = await withSecret(view);
        assert.equal(snapshot.secret("nebula", "aws-s3-secret").state, "found");
        assert.equal(snapshot.nebulaCluster("nebula", "nebula").state, "found");
      }
      // One for the list and then the watch (a long request holds its connection), one for
      // the Secret GETs.
      assert.ok(api.connections() - before <= 2, `${api.connections() - before} connections`);
    } finally {
      await view.stop();
      await closeApiConnections(kubeConfig);
    }
  });
});

describe("a connection dropped under a read", () => {
  it("a Secret read is sent again over a new connection, not reported unavailable", async () => {
    // A kept-alive connection closed by an API server restart or a load balancer just as a
    // restore's Secret read went out: the read is repeated, as Go's transport repeats reads.
    const kubeConfig = loaded();
    const view = liveView(kubeConfig);
    await view.start();
    try {
      const before = api.connections();
      // Two: undici itself sends a read again once when a kept-alive connection it reused
      // drops, but not when the new connection it opened for that drops too.
      api.dropNext(2);
      const snapshot = await withSecret(view);
      assert.equal(snapshot.secret("nebula", "aws-s3-secret").state, "found");
      assert.ok(api.connections() - before >= 1, "sent again over a new connection");
    } finally {
      await view.stop();
      await closeApiConnections(kubeConfig);
    }
  });
});
