/**
 * The webhook's own answers for objects the bench will create through the API server, asked
 * of the webhook before anything is timed, for bench/baseline-server.ts to give back looked
 * up: what the API server spends on applying an answer, measured apart from what the webhook
 * spends on reaching it.
 */
import fastJsonPatch, { type Operation } from "fast-json-patch";
import { type AdmissionResponse, reviewFor } from "../src/admission/review.js";
import type { KubeObject } from "../src/kube/objects.js";

/** An answer as baseline-server keeps it: the API server's uid is put in per request. */
export type StoredAnswer = Omit<AdmissionResponse, "uid">;

/** POSTs an AdmissionReview to the webhook's path; resolves to the review it answers. */
export type Ask = (path: string, review: object) => Promise<{ response?: AdmissionResponse }>;

/**
 * `"<stage>:<name>"` → the webhook's answer, for each object: POST /mutate, its patch applied,
 * then POST /validate with the result, as the API server would call them.
 *
 * The objects go without the API server's defaults. That changes nothing for the bench's:
 * defaulting sets none of the fields the webhook patches (a Job's command, env and
 * imagePullSecrets; a restore that already has its concurrency), and none the rules read.
 * Each answer must admit: a denial would be replayed as a failed create, and a bench Job
 * without a patch means the webhook did not see its cluster, which would make the replay the
 * floor again, unnoticed.
 */
export async function webhookAnswers(
  ask: Ask,
  objects: readonly KubeObject[],
): Promise<Record<string, StoredAnswer>> {
  const answers: Record<string, StoredAnswer> = {};
  const answerOf = async (stage: "mutate" | "validate", object: KubeObject, name: string) => {
    const { response } = await ask(
      `/${stage}`,
      reviewFor(object, { uid: `${stage}-${name}`, dryRun: true }),
    );
    if (response?.allowed !== true)
      throw new Error(
        `the webhook did not admit ${name} at /${stage}: ${response?.status?.message ?? "no answer"}`,
      );
    const { uid: _uid, ...stored } = response;
    answers[`${stage}:${name}`] = stored;
    return response;
  };
  for (const created of objects) {
    const name = created.metadata?.name ?? "";
    const mutated = await answerOf("mutate", created, name);
    if (created.kind === "Job" && !mutated.patch)
      throw new Error(`the webhook did not complete ${name}: its answer has no patch`);
    const patch = mutated.patch
      ? (JSON.parse(Buffer.from(mutated.patch, "base64").toString("utf8")) as Operation[])
      : [];
    await answerOf(
      "validate",
      fastJsonPatch.applyPatch(structuredClone(created), patch).newDocument,
      name,
    );
  }
  return answers;
}
