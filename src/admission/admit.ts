import type { Logger } from "pino";
import type { ClusterView, Freshness } from "../cluster-view/cluster-view.js";
import type { Config } from "../config/config.js";
import type { KubeObject } from "../kube/objects.js";
import { type Decision, decide, type Stage } from "../rules/decision.js";
import { evaluateFamily } from "../rules/evaluate.js";
import { familyFor } from "../rules/registry.js";
import type { RuleFamily, RuleResult, SecretRef } from "../rules/rule.js";
import type { AdmissionRequest, AdmissionResponse } from "./review.js";

export interface AdmissionDeps {
  readonly view: ClusterView;
  readonly config: Config;
  readonly logger: Logger;
}

/** What happened to one request: the answer and what the logs and metrics record of it. */
export interface Admission {
  readonly response: AdmissionResponse;
  /** The family that judged it, or why none did ("unguarded kind", "exempt namespace"…). */
  readonly handledBy: string;
  readonly results: readonly RuleResult[];
}

const allow = (request: AdmissionRequest, handledBy: string): Admission => ({
  response: { uid: request.uid, allowed: true },
  handledBy,
  results: [],
});

/** What an admission needs after the cheap checks: either its answer, or a family to run. */
export type Plan =
  | { readonly kind: "answered"; readonly admission: Admission }
  | {
      readonly kind: "judge";
      readonly family: RuleFamily;
      readonly object: KubeObject;
      /** Secrets to read first: when empty, judging needs no I/O at all. */
      readonly secrets: readonly SecretRef[];
      /** NebulaBackups to read first (operator Jobs aimed at another namespace). */
      readonly nebulaBackups: readonly SecretRef[];
    };

/**
 * The synchronous first half of the pipeline: exempt namespaces, unguarded kinds and
 * unchecked operations are answered here, without a promise or a timer (the fast path).
 */
export function planAdmission(
  request: AdmissionRequest,
  stage: Exclude<Stage, "both">,
  config: Config,
): Plan {
  const answered = (handledBy: string): Plan => ({
    kind: "answered",
    admission: allow(request, handledBy),
  });
  const object = request.object ?? request.oldObject;
  if (!object) return answered("no object");
  if (config.exemptNamespaces.includes(request.namespace)) return answered("exempt namespace");
  const family = familyFor(object, request.group, request.kind);
  if (!family) return answered("unguarded");
  if (!family.operations.includes(request.operation) || !request.object) {
    return answered(`${family.name} (${request.operation} not checked)`);
  }
  // Only /validate judges Secrets: /mutate completes objects and needs no API call.
  const secrets =
    stage === "validate"
      ? family.secretsNeeded(
          request.object,
          request.namespace,
          request.operation,
          request.oldObject,
        )
      : [];
  const nebulaBackups =
    stage === "validate"
      ? (family.nebulaBackupsNeeded?.(request.object, request.namespace, config) ?? [])
      : [];
  return { kind: "judge", family, object: request.object, secrets, nebulaBackups };
}

/**
 * The second half: read the cluster snapshot, run the rules, combine their verdicts.
 *
 * Secrets are read from the API server's watch cache first (`resourceVersion=0`), which is
 * usually milliseconds behind etcd, and longer when an API server's watch lags. A cached read
 * is never the last word against an object: when any rule reports a violation (a denial, a
 * warning or an audit note) after Secrets were read, they are read again from etcd and the
 * rules run again, and that verdict stands (a Secret applied together with its restore is then
 * seen). A stale read that admits (a Secret deleted a moment ago) admits what a moment
 * earlier was fine; the operator reads the Secret again when it runs. NebulaBackups, which
 * admit operator Jobs, are always read from etcd (live-view.ts).
 *
 * A read the API server did not answer is not asked again (the verdict says to try again),
 * and when the second read does not answer, the first verdict stands.
 */
export async function judge(
  request: AdmissionRequest,
  stage: Exclude<Stage, "both">,
  plan: Extract<Plan, { kind: "judge" }>,
  deps: AdmissionDeps,
  signal: AbortSignal,
): Promise<Admission> {
  const first = await judgeOnce(request, stage, plan, deps, signal, "cached");
  const violated = first.admission.results.some((result) =>
    result.findings.some((finding) => finding.type === "violation"),
  );
  if (plan.secrets.length === 0 || !violated || first.unanswered) return first.admission;
  const confirmed = await judgeOnce(request, stage, plan, deps, signal, "latest");
  return confirmed.unanswered ? first.admission : confirmed.admission;
}

async function judgeOnce(
  request: AdmissionRequest,
  stage: Exclude<Stage, "both">,
  plan: Extract<Plan, { kind: "judge" }>,
  deps: AdmissionDeps,
  signal: AbortSignal,
  freshness: Freshness,
): Promise<{ admission: Admission; unanswered: boolean }> {
  const cluster = await deps.view.snapshot(plan.secrets, signal, plan.nebulaBackups, freshness);
  const unanswered = plan.secrets.some(
    (ref) => cluster.secret(ref.namespace, ref.name).state === "unavailable",
  );
  const results = evaluateFamily(
    plan.family,
    {
      object: plan.object,
      oldObject: request.oldObject,
      operation: request.operation,
      namespace: request.namespace,
      cluster,
      config: deps.config,
    },
    stage,
  );
  const decision = decide(plan.object, results, stage);
  return {
    admission: {
      response: toResponse(request, decision, plan.family.name),
      handledBy: plan.family.name,
      results,
    },
    unanswered,
  };
}

/** The whole pipeline after decoding: plan, then judge when needed. */
export async function admit(
  request: AdmissionRequest,
  stage: Exclude<Stage, "both">,
  deps: AdmissionDeps,
  signal: AbortSignal,
): Promise<Admission> {
  const plan = planAdmission(request, stage, deps.config);
  return plan.kind === "answered" ? plan.admission : judge(request, stage, plan, deps, signal);
}

function toResponse(
  request: AdmissionRequest,
  decision: Decision,
  familyName: string,
): AdmissionResponse {
  const response: AdmissionResponse = { uid: request.uid, allowed: decision.allowed };
  if (!decision.allowed) {
    const what = `${familyName} "${request.name || request.object?.metadata?.generateName || ""}"`;
    response.status = {
      code: 403,
      reason: "Forbidden",
      message: `${what} breaks ${decision.denials.length} rule${decision.denials.length > 1 ? "s" : ""}: ${decision.denials.join("; ")}`,
    };
  }
  if (decision.warnings.length > 0) response.warnings = [...decision.warnings];
  if (decision.patch.length > 0) {
    response.patchType = "JSONPatch";
    response.patch = Buffer.from(JSON.stringify(decision.patch)).toString("base64");
  }
  if (Object.keys(decision.auditAnnotations).length > 0)
    response.auditAnnotations = { ...decision.auditAnnotations };
  return response;
}
