import type { Logger } from "pino";
import type { Admission } from "../admission/admit.js";
import type { AdmissionRequest } from "../admission/review.js";
import { kindLabel, operationLabel, ruleLabel } from "../metrics.js";

/** What a log line says instead of a request value that is not of the expected form. */
const UNREADABLE = "(not shown)";

/**
 * A namespace or object name as Kubernetes allows it (DNS subdomain, at most 253 characters),
 * else a placeholder: anything else in those fields was not sent by an API server.
 */
export function nameForLog(value: unknown): string {
  if (value === "") return ""; // generateName: the API server names it later
  return typeof value === "string" &&
    value.length <= 253 &&
    /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(value)
    ? value
    : UNREADABLE;
}

/** A request uid as API servers make them (a UUID), else a placeholder. */
export function uidForLog(value: unknown): string {
  return typeof value === "string" && /^[A-Za-z0-9-]{1,64}$/.test(value) ? value : UNREADABLE;
}

/**
 * Where an error was raised (its type and our code's first stack frame), never its message:
 * a parser's message may quote the input (the rest of a word, which may be a key).
 */
export function errorForLog(error: unknown): { type: string; at: string | undefined } {
  if (!(error instanceof Error)) return { type: typeof error, at: undefined };
  // The stack starts with the message, which may span lines: skip it whole.
  const header = error.message ? `${error.name}: ${error.message}` : error.name;
  const frames = error.stack?.startsWith(header) ? error.stack.slice(header.length) : "";
  const at = frames
    .split("\n")
    .map((line) => line.trim())
    .find((line) => line.startsWith("at "));
  return { type: /^\w{1,40}$/.test(error.name) ? error.name : "Error", at: at?.slice(0, 300) };
}

/**
 * One line per admission: uid, object, verdict per rule id; never the object itself, and no
 * request value that is not of a known form (kinds, operations, rule ids and families from
 * closed sets, names only when they are valid names, numbers and booleans). Built from these
 * fields only, so that it can go through `unredacted(logger)`: redaction would find nothing
 * here to censor.
 * Denials and warnings are logged at info; admissions without either (most of them, patched
 * or not) at debug, or they drown what a person needs to see.
 */
export function logAdmission(
  logger: Logger,
  stage: string,
  request: AdmissionRequest,
  admission: Admission,
  ms: number,
): void {
  const { response } = admission;
  const notable = !response.allowed || (response.warnings?.length ?? 0) > 0;
  const level = notable ? "info" : "debug";
  if (!logger.isLevelEnabled(level)) return;
  const verdicts: Record<string, string> = {};
  for (const result of admission.results) {
    if (result.findings.length === 0) continue;
    verdicts[ruleLabel(result.rule.id)] =
      `${result.mode}:${result.findings.map((f) => f.type).join(",")}`;
  }
  logger[level](
    {
      stage,
      uid: uidForLog(request.uid),
      kind: kindLabel(request.group, request.kind),
      namespace: nameForLog(request.namespace),
      name: nameForLog(request.name),
      operation: operationLabel(request.operation),
      dryRun: request.dryRun,
      handledBy: admission.handledBy,
      allowed: response.allowed,
      verdicts,
      patched: response.patch !== undefined,
      ms: Math.round(ms * 1000) / 1000,
    },
    "admission",
  );
}
