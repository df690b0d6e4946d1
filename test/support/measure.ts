import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { post } from "./https-client.js";

/** A memory figure of process `pid` from /proc/PID/status (Linux), in KiB. */
export function processMemoryKiB(pid: number, field: "VmRSS" | "VmHWM" | "RssAnon"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kiB = status.match(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m"))?.[1];
  // Never 0 for a figure that is not there: a memory bound must not pass on a misread.
  if (kiB === undefined) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(kiB);
}

/** CPU time (user + system, all threads) process `pid` has used, in ms (10 ms ticks). */
export function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  // utime and stime are fields 14 and 15 of /proc/PID/stat: 12 and 13 after "pid (comm) ".
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/**
 * How long the main thread of process `pid` has waited, runnable, for a CPU (the second
 * field of /proc/PID/schedstat), in ms; undefined where the kernel does not keep it.
 */
export function runQueueWaitMs(pid: number): number | undefined {
  try {
    const waitNs = Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[1]);
    return Number.isFinite(waitNs) ? waitNs / 1e6 : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `work` and says how long it took. */
export async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work();
  return { value, ms: Date.now() - started };
}

/** Requests the webhook has sent to the API server, summed over verbs and resources. */
export async function apiCallsMade(port: number, ca: string): Promise<number> {
  const text = (await post(port, ca, "/metrics", undefined, { method: "GET" })).text;
  return [...text.matchAll(/^nebula_br_webhook_api_calls_total\{[^}]*\} (\d+)/gm)].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );
}

/** The documented br-ent Job (examples/backup-job.yaml) as the webhook completes it. */
export function assertCompletedBackupPod(pod: any): void {
  assert.deepEqual(pod.imagePullSecrets, [{ name: "br-ent-secret" }]);
  assert.deepEqual(pod.containers[0].env, [
    {
      name: "META_ADDRESS",
      value: "nebula-metad-0.nebula-metad-headless.nebula.svc.cluster.local",
    },
  ]);
  assert.match(
    pod.containers[0].command[2],
    /br-ent backup full --meta nebula-metad-0\.nebula-metad-headless\.nebula\.svc\.cluster\.local:9559 --storage /,
  );
}
