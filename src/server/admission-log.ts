import type { Logger } from "pino";
import type { Admission } from "../admission/admit.js";
import type { AdmissionRequest } from "../admission/review.js";

/**
 * One line per admission: uid, object, verdict per rule id; never the object itself.
 * Guarded objects are logged at info; the unrelated rest at debug, or they drown it.
 */
export function logAdmission(
  logger: Logger,
  stage: string,
  request: AdmissionRequest,
  admission: Admission,
  ms: number,
): void {
  const level = admission.results.length > 0 ? "info" : "debug";
  if (!logger.isLevelEnabled(level)) return;
  logger[level](
    {
      stage,
      uid: request.uid,
      kind: `${request.group}/${request.kind}`,
      namespace: request.namespace,
      name: request.name,
      operation: request.operation,
      dryRun: request.dryRun,
      handledBy: admission.handledBy,
      allowed: admission.response.allowed,
      verdicts: Object.fromEntries(
        admission.results
          .filter((r) => r.findings.length > 0)
          .map((r) => [r.rule.id, `${r.mode}:${r.findings.map((f) => f.type).join(",")}`]),
      ),
      patched: admission.response.patch !== undefined,
      ms: Math.round(ms * 1000) / 1000,
    },
    "admission",
  );
}
