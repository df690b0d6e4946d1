import type { Logger } from "pino";
import type { ClusterView } from "../cluster-view/cluster-view.js";
import type { Config } from "../config/config.js";
import { type Decision, decide, type Stage } from "../rules/decision.js";
import { evaluateFamily } from "../rules/evaluate.js";
import { familyFor } from "../rules/registry.js";
import type { RuleResult } from "../rules/rule.js";
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

/**
 * The admission pipeline after decoding: pick the rule family, prepare the cluster snapshot,
 * run the rules, combine their verdicts into the response for this stage.
 */
export async function admit(
  request: AdmissionRequest,
  stage: Exclude<Stage, "both">,
  deps: AdmissionDeps,
  signal: AbortSignal,
): Promise<Admission> {
  const object = request.object ?? request.oldObject;
  if (!object) return allow(request, "no object");
  if (deps.config.exemptNamespaces.includes(request.namespace))
    return allow(request, "exempt namespace");
  const family = familyFor(object, request.group, request.kind);
  if (!family) return allow(request, "unguarded");
  if (!family.operations.includes(request.operation) || !request.object) {
    return allow(request, `${family.name} (${request.operation} not checked)`);
  }
  // Only /validate judges Secrets: /mutate completes objects and needs no API call.
  const secrets =
    stage === "validate" && request.operation === "CREATE"
      ? family.secretsNeeded(request.object, request.namespace)
      : [];
  const cluster = await deps.view.snapshot(secrets, signal);
  const results = evaluateFamily(family, {
    object: request.object,
    oldObject: request.oldObject,
    operation: request.operation,
    namespace: request.namespace,
    cluster,
    config: deps.config,
  });
  const decision = decide(request.object, results, stage);
  return { response: toResponse(request, decision, family.name), handledBy: family.name, results };
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
