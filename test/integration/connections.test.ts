import assert from "node:assert/strict";
import { request } from "node:https";
import { type Socket, connect as tcpConnect } from "node:net";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { connect as tlsConnect } from "node:tls";
import { parseConfig } from "../../src/config/config.js";
import { Metrics } from "../../src/metrics.js";
import {
  type ConnectionLimits,
  DEFAULT_LIMITS,
  type RunningServer,
} from "../../src/server/serve.js";
import { example } from "../support/fixtures.js";
import { admissionReview, post } from "../support/https-client.js";
import { startInProcessServer } from "../support/in-process-server.js";
import { eventually, type Polling } from "../support/until.js";

const config = (() => {
  const parsed = parseConfig({});
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.config;
})();

async function start(
  limits: Partial<ConnectionLimits> = {},
): Promise<{ server: RunningServer; metrics: Metrics }> {
  const metrics = new Metrics();
  const server = await startInProcessServer({ config, metrics, limits });
  return { server, metrics };
}

/** Seconds from `open` until the server closes the socket it returns. */
function heldFor(open: () => Socket): Promise<number> {
  const started = Date.now();
  const socket = open();
  socket.on("error", () => {});
  return new Promise((resolve) =>
    socket.once("close", () => resolve((Date.now() - started) / 1000)),
  );
}

/** Writes `text` one byte every `everyMs` until the socket closes. */
function trickle(socket: Socket, text: string, everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed) clearInterval(timer);
    else socket.write(text[i++ % text.length] as string);
  }, everyMs);
}

/** A TLS connection to `server` that keeps what it receives and whether it was closed. */
function connectRecording(server: RunningServer) {
  const socket = tlsConnect({
    host: "127.0.0.1",
    port: server.port,
    ca: server.caPem as string,
    servername: "localhost",
  });
  const seen = { text: "", closed: false };
  socket.on("data", (chunk: Buffer) => {
    seen.text += chunk.toString("latin1");
  });
  socket.on("close", () => {
    seen.closed = true;
  });
  socket.on("error", () => {});
  return { socket, seen };
}

/** Asked every 20 ms for up to `timeoutMs`: a socket's state changes within a few. */
const within = (timeoutMs: number): Polling => ({ timeoutMs, everyMs: 20 });

const HEALTHZ = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

const metricValue = async (metrics: Metrics, line: RegExp): Promise<number> => {
  const match = (await metrics.registry.metrics()).match(line);
  return match ? Number(match[1]) : 0;
};

describe("slow and silent clients", () => {
  it("are cut within the handshake, header, request and keep-alive timeouts", async (t) => {
    // The keep-alive is 120 s by default (see the next case): shortened here to be timed.
    const KEEP_ALIVE_MS = 3_000;
    const { server, metrics } = await start({ keepAliveTimeoutMs: KEEP_ALIVE_MS });
    const ca = server.caPem as string;
    const tls = () =>
      tlsConnect({ host: "127.0.0.1", port: server.port, ca, servername: "localhost" });
    const s = (ms: number) => ms / 1000;
    const CHECK = 2; // the timeouts are checked every second, then the socket is closed
    try {
      const cases = {
        "TCP connect, no TLS handshake": {
          bound: s(DEFAULT_LIMITS.handshakeTimeoutMs),
          open: () => tcpConnect(server.port, "127.0.0.1"),
        },
        "handshake, then nothing": {
          bound: s(DEFAULT_LIMITS.headersTimeoutMs),
          open: tls,
        },
        "headers one byte every 300 ms": {
          bound: s(DEFAULT_LIMITS.headersTimeoutMs),
          open: () => {
            const socket = tls();
            socket.once("secureConnect", () =>
              trickle(
                socket,
                `POST /validate HTTP/1.1\r\nHost: x\r\n${"x-pad: a\r\n".repeat(500)}`,
                300,
              ),
            );
            return socket;
          },
        },
        "body never finished": {
          bound: s(DEFAULT_LIMITS.requestTimeoutMs),
          open: () => {
            const socket = tls();
            socket.once("secureConnect", () => {
              socket.write(
                "POST /validate HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{",
              );
              trickle(socket, " ", 300);
            });
            return socket;
          },
        },
        "keep-alive, idle after one answer": {
          bound: s(KEEP_ALIVE_MS),
          open: () => {
            const socket = tls();
            socket.once("secureConnect", () => socket.write(HEALTHZ));
            socket.on("data", () => {});
            return socket;
          },
        },
      };
      const held = await Promise.all(
        Object.entries(cases).map(async ([name, { bound, open }]) => ({
          name,
          bound,
          seconds: await heldFor(open),
        })),
      );
      for (const { name, bound, seconds } of held) {
        t.diagnostic(`${name}: held ${seconds.toFixed(1)} s (bound ${bound} s)`);
        assert.ok(seconds <= bound + CHECK, `${name}: held ${seconds} s, bound ${bound} s`);
        assert.ok(seconds >= bound - CHECK, `${name}: cut after ${seconds} s, before its timeout`);
      }
      // Still serving, and the cuts are counted.
      const answer = await post(
        server.port,
        ca,
        "/validate",
        admissionReview(example("restore-accepted.yaml")),
      );
      assert.equal(answer.status, 200);
      assert.ok(
        (await metricValue(metrics, /connections_shed_total\{reason="no-request"\} (\d+)/)) >= 2,
      );
    } finally {
      await server.close(1000);
    }
  });
});

describe("idle connections of the API server", () => {
  it("are kept longer than the API server keeps them (90 s): a request after a quiet spell needs no new handshake", async () => {
    // The API server (client-go's transport, Go's IdleConnTimeout) drops an idle webhook
    // connection after 90 s; closing it sooner ourselves made most admissions, which come
    // seconds or minutes apart, wait for a new TLS handshake.
    assert.ok(DEFAULT_LIMITS.keepAliveTimeoutMs > 90_000);
    const { server } = await start();
    const { socket, seen } = connectRecording(server);
    const answers = () => seen.text.match(/HTTP\/1\.1 200/g)?.length ?? 0;
    try {
      await new Promise<void>((resolve) => socket.once("secureConnect", () => resolve()));
      socket.write(HEALTHZ);
      assert.ok(await eventually(() => answers() >= 1, within(2000)), "answered");
      // Longer than the 5 s it used to keep them.
      await sleep(6_000);
      assert.equal(socket.destroyed, false, "the server closed the idle connection");
      socket.write(HEALTHZ);
      assert.ok(await eventually(() => answers() >= 2, within(2000)), "answered again");
      assert.equal(answers(), 2);
    } finally {
      socket.destroy();
      await server.close(1000);
    }
  });
});

describe("kept-alive connections at shutdown", () => {
  it("are answered with Connection: close during the delay, closed once the answer in flight is sent, and do not hold the shutdown for their keep-alive", async () => {
    const { server } = await start();
    const review = JSON.stringify(admissionReview(example("restore-accepted.yaml")));
    const busy = connectRecording(server);
    const idle = connectRecording(server);
    try {
      for (const { socket, seen } of [busy, idle]) {
        socket.write(HEALTHZ);
        assert.ok(await eventually(() => /HTTP\/1\.1 200/.test(seen.text), within(2000)));
        assert.match(seen.text, /Connection: keep-alive/i);
        seen.text = "";
      }
      // A request in flight: headers and half its body.
      busy.socket.write(
        `POST /validate HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(review)}\r\n\r\n${review.slice(0, 100)}`,
      );
      await sleep(200); // the server has the request before it starts to shut down
      const started = Date.now();
      const closing = server.close(20_000, 600);

      // During the delay the replica still serves, but tells the API server to go elsewhere.
      await sleep(200);
      idle.socket.write(HEALTHZ);
      assert.ok(await eventually(() => idle.seen.closed, within(2000)), "closed after its answer");
      assert.match(idle.seen.text, /HTTP\/1\.1 200/);
      assert.match(idle.seen.text, /Connection: close/i);

      // After it: the request in flight is answered, then its connection closed.
      await sleep(700);
      assert.equal(busy.seen.closed, false, "the request in flight was cut");
      busy.socket.write(review.slice(100));
      assert.ok(
        await eventually(() => /HTTP\/1\.1 200/.test(busy.seen.text), within(2000)),
        "answered",
      );
      const answered = Date.now();
      // It came before the shutdown, so it was answered to be kept: the server closes it.
      assert.match(busy.seen.text, /Connection: keep-alive/i);
      assert.ok(await eventually(() => busy.seen.closed, within(1000)), "closed after its answer");
      await closing;
      const took = Date.now() - started;
      assert.ok(took < 5_000, `shutdown took ${took} ms, grace 20 s`);
      assert.ok(Date.now() - answered < 1_000);
    } finally {
      busy.socket.destroy();
      idle.socket.destroy();
      await server.close(0);
    }
  });
});

describe("connection cap", () => {
  const CAP = 50;

  it("past the cap, idle connections make room: a normal request succeeds and one in flight survives", async (t) => {
    const { server, metrics } = await start({ maxConnections: CAP });
    const ca = server.caPem as string;
    const flood: Socket[] = [];
    try {
      // A request whose body is still on its way when the flood comes.
      const review = JSON.stringify(admissionReview(example("restore-accepted.yaml")));
      const half = Math.floor(review.length / 2);
      const inFlight = new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: "127.0.0.1",
            port: server.port,
            path: "/validate",
            method: "POST",
            ca,
            agent: false,
            headers: {
              "content-type": "application/json",
              "content-length": Buffer.byteLength(review),
            },
          },
          (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
          },
        );
        req.on("error", reject);
        req.write(review.slice(0, half));
        setTimeout(() => req.end(review.slice(half)), 1500);
      });
      await sleep(200);

      let closedByServer = 0;
      for (let i = 0; i < CAP * 4; i++) {
        const socket = tcpConnect(server.port, "127.0.0.1");
        socket.on("error", () => {});
        socket.on("close", () => closedByServer++);
        flood.push(socket);
      }
      await sleep(500);
      const open = await metricValue(metrics, /nebula_br_webhook_connections_open (\d+)/);
      t.diagnostic(
        `${flood.length} idle connections opened against a cap of ${CAP}: ${closedByServer} closed by the server, ${open} open`,
      );
      assert.ok(open <= CAP, `${open} connections open`);
      assert.ok(closedByServer >= flood.length - CAP, `${closedByServer} closed`);

      const started = Date.now();
      const normal = await post(
        server.port,
        ca,
        "/validate",
        admissionReview(example("restore-accepted.yaml")),
      );
      assert.equal(normal.status, 200);
      assert.equal(normal.body.response.allowed, true);
      t.diagnostic(`a normal request during the flood: ${Date.now() - started} ms`);
      assert.equal(await inFlight, 200, "the request in flight was not cut");
      assert.ok(
        (await metricValue(metrics, /connections_shed_total\{reason="evicted-idle"\} (\d+)/)) >=
          flood.length - CAP,
      );
    } finally {
      for (const socket of flood) socket.destroy();
      await server.close(1000);
    }
  });
});
