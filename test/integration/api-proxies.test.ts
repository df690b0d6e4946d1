import assert from "node:assert/strict";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import * as tls from "node:tls";
import { inspect } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import { LiveClusterView } from "../../src/cluster-view/live-view.js";
import { closeApiConnections, getJson } from "../../src/kube/api-client.js";
import { describeApiError } from "../../src/kube/api-errors.js";
import { createLogger } from "../../src/log.js";
import { generateCertificates } from "../../src/server/certificates.js";
import { type ClusterApiServer, startClusterApiServer } from "../support/cluster-api-server.js";
import { type ConnectProxy, startConnectProxy } from "../support/connect-proxy.js";
import { startSocksProxy } from "../support/socks-proxy.js";
import { until } from "../support/until.js";

// The webhook's API connections through a kubeconfig's `proxy-url`: a forward proxy
// (http:// or https://, HTTP CONNECT) or a SOCKS one (socks5://), each a stand-in that records
// its tunnels, in front of a stand-in API server.

const SECRET_PATH = "/api/v1/namespaces/ns-6/secrets/aws";

let api: ClusterApiServer;
/** The stand-in proxies the running test started: closed after it, whatever happened. */
const proxies: ConnectProxy[] = [];

beforeEach(async () => {
  api = await startClusterApiServer();
  api.putSecret("ns-6", "aws", ["access-key"]);
});

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  await api.close();
});

/** `starting`'s proxy, closed after the test. */
async function proxyFor<P extends ConnectProxy>(starting: Promise<P>): Promise<P> {
  const proxy = await starting;
  proxies.push(proxy);
  return proxy;
}

/** A kubeconfig for the stand-in API server whose cluster names `proxyUrl`. */
async function kubeConfigVia(proxyUrl: string): Promise<KubeConfig> {
  const viaProxy = new KubeConfig();
  viaProxy.loadFromFile(
    await api.kubeconfig(await mkdtemp(join(tmpdir(), "nbw-proxy-")), false, proxyUrl),
  );
  return viaProxy;
}

/** One GET through `proxyUrl`, on a connection pool closed after it. */
async function getThrough(proxyUrl: string, path = SECRET_PATH, timeoutMs = 5_000) {
  const viaProxy = await kubeConfigVia(proxyUrl);
  try {
    return await getJson(viaProxy, path, timeoutMs);
  } finally {
    await closeApiConnections(viaProxy);
  }
}

/** Fails unless `read` ends in an error at `from`–`to` ms; returns the error. */
async function failsWithin(read: Promise<unknown>, from: number, to: number): Promise<unknown> {
  const started = performance.now();
  const error = await read.then(
    () => assert.fail("the read went through"),
    (e: unknown) => e,
  );
  const waited = performance.now() - started;
  assert.ok(waited >= from && waited < to, `gave up after ${Math.round(waited)} ms`);
  return error;
}

/**
 * The live view through `proxy`: its list, its watch and a Secret read all tunnelled to the
 * API server, then a second read 6 s later, past undici's own idle time-out (4 s, checked on
 * timers that may run late under load), on the same connection: else a restore a few seconds
 * after the last one would pay a new tunnel and a TLS handshake with the client certificate.
 */
async function keepsItsConnectionBetweenReads(proxy: ConnectProxy): Promise<void> {
  const viaProxy = await kubeConfigVia(proxy.url);
  const view = new LiveClusterView({
    kubeConfig: viaProxy,
    logger: createLogger("silent"),
    secretTimeoutMs: 2000,
  });
  const read = async () =>
    (
      await view.snapshot([{ namespace: "ns-6", name: "aws" }], new AbortController().signal)
    ).secret("ns-6", "aws").state;
  try {
    await view.start();
    assert.equal(view.isSynced(), true);
    assert.equal(await read(), "found");
    await until(() => api.watches().length > 0, "the watch is open");
    const tunnels = proxy.tunnels.length;
    assert.ok(tunnels > 0, "the proxy carried the requests");
    assert.ok(
      proxy.tunnels.every((target) => target === `127.0.0.1:${api.port}`),
      `tunnels only to the API server: ${proxy.tunnels.join(", ")}`,
    );
    assert.equal(api.connections(), tunnels, "every connection came through the proxy");
    await sleep(6_000);
    assert.equal(await read(), "found");
    assert.equal(proxy.tunnels.length, tunnels, "the second read reused the open connection");
  } finally {
    await view.stop();
    await closeApiConnections(viaProxy);
  }
}

/**
 * Reads through `proxy` with the right user and password in a `scheme://` proxy-url, then with
 * a wrong password: the proxy refuses that one, and the error's description names no
 * credential. Returns the error.
 */
async function readsOnlyWithItsCredentials(
  proxy: ConnectProxy,
  scheme: "http" | "socks5",
): Promise<unknown> {
  const { host } = new URL(proxy.url);
  const secret = (await getThrough(`${scheme}://webhook:s3cr3t@${host}`)) as {
    metadata?: { name?: string };
  };
  assert.equal(secret.metadata?.name, "aws");
  assert.equal(proxy.tunnels.length, 1);
  const error = await getThrough(`${scheme}://webhook:wrong@${host}`).then(
    () => assert.fail("the wrong password went through"),
    (e: unknown) => e,
  );
  assert.doesNotMatch(describeApiError(error), /wrong|s3cr3t|webhook/, "no credentials said");
  assert.equal(proxy.refused.length, 1, "the wrong password was refused by the proxy");
  return error;
}

/** Node's CA store, where this Node.js can change it (tls.d.ts of Node 20 knows neither). */
interface CaStore {
  getCACertificates(which: "default"): string[];
  setDefaultCACertificates(certificates: string[]): void;
}
const caStore = (() => {
  const store = tls as unknown as Partial<CaStore>;
  return store.getCACertificates && store.setDefaultCACertificates ? (store as CaStore) : undefined;
})();

describe("API connections through a forward proxy (proxy-url: http:// or https://)", () => {
  it("carry lists, watches and reads, and keep their tunnel open between reads 6 s apart", async () => {
    await keepsItsConnectionBetweenReads(await proxyFor(startConnectProxy()));
  });

  it("give the proxy the credentials of the proxy-url, and say nothing of them when it refuses", async () => {
    const proxy = await proxyFor(startConnectProxy({ credentials: "webhook:s3cr3t" }));
    await readsOnlyWithItsCredentials(proxy, "http");
  });

  it("check an https:// proxy's certificate against Node's CA store (as client-go checks the system's)", {
    // Node 22.19 and 24.5 can change the CA store of a running process; make test runs the
    // suite under the image's Node.js 24.
    skip: caStore === undefined && "this Node.js cannot change its CA store while it runs",
  }, async () => {
    const { getCACertificates, setDefaultCACertificates } = caStore as CaStore;
    const proxyCerts = generateCertificates(["localhost"], ["127.0.0.1"]);
    const proxy = await proxyFor(startConnectProxy({ tls: proxyCerts.serving }));
    const defaultCas = getCACertificates("default");
    try {
      await assert.rejects(getThrough(proxy.url), "no trusted CA signed the proxy's certificate");
      assert.equal(proxy.tunnels.length, 0);
      // As NODE_EXTRA_CA_CERTS or the image's CA bundle would add it.
      setDefaultCACertificates([...defaultCas, proxyCerts.ca.cert]);
      const secret = (await getThrough(proxy.url)) as { metadata?: { name?: string } };
      assert.equal(secret.metadata?.name, "aws");
      assert.deepEqual(proxy.tunnels, [`127.0.0.1:${api.port}`]);
    } finally {
      setDefaultCACertificates(defaultCas);
    }
  });

  it("give a read up when the proxy never answers the CONNECT, within 10 s rather than undici's 300 s", {
    timeout: 30_000,
  }, async () => {
    const proxy = await proxyFor(startConnectProxy({ silent: true }));
    // A list page's own time-out (60 s) starts only once its request is tunnelled.
    await failsWithin(getThrough(proxy.url, SECRET_PATH, 60_000), 9_000, 15_000);
    assert.equal(proxy.tunnels.length, 1);
    assert.equal(api.connections(), 0, "nothing reached the API server");
  });
});

describe("API connections through a SOCKS proxy (proxy-url: socks5://)", () => {
  it("carry lists, watches and reads, and keep their connection open between reads 6 s apart", async () => {
    // client-node's own SOCKS dispatcher closed an idle connection after undici's 4 s.
    await keepsItsConnectionBetweenReads(await proxyFor(startSocksProxy()));
  });

  it("give a SOCKS5 proxy the user and password of the proxy-url, and say nothing of them when it refuses", async () => {
    const proxy = await proxyFor(startSocksProxy({ credentials: "webhook:s3cr3t" }));
    const error = await readsOnlyWithItsCredentials(proxy, "socks5");
    assert.equal(describeApiError(error), "ESOCKS_AUTH", "the proxy refused them, as it said");
    // Nor in the error itself, as a log line or a crash would print it.
    assert.doesNotMatch(inspect(error, { depth: 10 }), /wrong|s3cr3t/, "none in the error");
    assert.deepEqual(proxy.refused, ["wrong credentials"]);
  });

  it("give a read up when the proxy never answers, within 10 s", { timeout: 30_000 }, async () => {
    const proxy = await proxyFor(startSocksProxy({ silent: true }));
    await failsWithin(getThrough(proxy.url, SECRET_PATH, 60_000), 9_000, 20_000);
  });

  it("give a read up when the proxy opens a tunnel that never carries the TLS handshake, within 10 s", {
    timeout: 30_000,
  }, async () => {
    const proxy = await proxyFor(startSocksProxy({ stalled: true }));
    const error = await failsWithin(getThrough(proxy.url, SECRET_PATH, 60_000), 9_000, 20_000);
    assert.equal(describeApiError(error), "UND_ERR_CONNECT_TIMEOUT");
    assert.equal(proxy.tunnels.length, 1, "the tunnel was opened, then nothing came");
  });

  it("fail a read, not the process, when the client key cannot be read", async () => {
    const proxy = await proxyFor(startSocksProxy());
    const file = await api.kubeconfig(
      await mkdtemp(join(tmpdir(), "nbw-proxy-")),
      false,
      proxy.url,
    );
    // As a rotated key file caught half written would read.
    const broken = (await readFile(file, "utf8")).replace(
      /client-key-data: [^,}]+/,
      `client-key-data: ${Buffer.from("not a key").toString("base64")}`,
    );
    await writeFile(file, broken);
    const viaProxy = new KubeConfig();
    viaProxy.loadFromFile(file);
    try {
      const error = await failsWithin(getJson(viaProxy, SECRET_PATH, 5_000), 0, 5_000);
      assert.notEqual(describeApiError(error), "UND_ERR_CONNECT_TIMEOUT", "failed, not timed out");
      assert.equal(proxy.tunnels.length, 1, "the proxy was reached: TLS failed after it");
    } finally {
      await closeApiConnections(viaProxy);
    }
  });
});
