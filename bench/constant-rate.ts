import { Agent, request } from "node:https";

export interface RateResult {
  readonly rate: number;
  readonly sent: number;
  readonly errors: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/**
 * An open-loop load: one request every 1/rate seconds, whatever the answers do, over
 * kept-alive TLS connections, each timed from its send to its last response byte.
 * (autocannon's rate limit sends in bursts, which puts its own queueing into the latency:
 * even a bare https server shows a 30 ms p99 under it here.)
 */
export async function constantRate(
  port: number,
  ca: string,
  requests: readonly { path: string; body: string }[],
  rate: number,
  seconds: number,
): Promise<RateResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 32, ca });
  let latencies: number[] = [];
  let errors = 0;
  const inFlight = new Set<Promise<void>>();
  const send = (item: { path: string; body: string }) => {
    const started = performance.now();
    const done = new Promise<void>((resolve) => {
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path: item.path,
          method: "POST",
          agent,
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(item.body),
          },
        },
        (res) => {
          res.on("data", () => {});
          res.on("end", () => {
            if (res.statusCode === 200) latencies.push(performance.now() - started);
            else errors++;
            resolve();
          });
        },
      );
      req.on("error", () => {
        errors++;
        resolve();
      });
      req.end(item.body);
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };
  const interval = 1000 / rate;
  // The first second opens the connections (TLS handshakes) and warms the JIT: not counted.
  const warmup = Math.round(rate);
  const total = Math.round(rate * seconds) + warmup;
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    else if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    if (i === warmup) {
      latencies = [];
      errors = 0;
    }
    send(requests[i % requests.length] as { path: string; body: string });
  }
  await Promise.all(inFlight);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(
      (latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0) * 100,
    ) / 100;
  return {
    rate,
    sent: total - warmup,
    errors,
    p50Ms: at(0.5),
    p90Ms: at(0.9),
    p99Ms: at(0.99),
    maxMs: at(1),
  };
}
