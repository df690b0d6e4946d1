import assert from "node:assert/strict";
import { post } from "./https-client.js";

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
