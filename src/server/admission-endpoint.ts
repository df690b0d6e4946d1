import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import {
  type Admission,
  type AdmissionDeps,
  judge,
  type Plan,
  planAdmission,
} from "../admission/admit.js";
import { type AdmissionRequest, decodeReview, encodeReview } from "../admission/review.js";
import { unredacted } from "../log.js";
import type { Metrics } from "../metrics.js";
import { errorForLog, logAdmission, uidForLog } from "./admission-log.js";
import { batchedAnswers, type EndAnswer } from "./answer-batch.js";
import { deadlineFor } from "./deadline.js";
import { type BodyResult, readJsonBody } from "./read-body.js";

type JudgePlan = Extract<Plan, { kind: "judge" }>;

export type Stage = "validate" | "mutate";

/** The denial for an object the rules failed on: nothing of the object or the error in it. */
const UNCHECKABLE =
  "nebula-br-webhook could not check this object and denies it rather than admit it unchecked: " +
  "some value in it could not be read (for a br-ent command: write it as plain words, without " +
  "unclosed quotes or braces); if the object looks right to you, report it with the webhook's log line for this request";

/** For judgements that do no I/O: nothing to abort. */
const NEVER = new AbortController().signal;

export interface AdmissionEndpointOptions extends AdmissionDeps {
  readonly logger: Logger;
  /** Largest AdmissionReview accepted; an object may be 1.5 MiB and comes with its old version. */
  readonly maxBodyBytes: number;
  readonly metrics: Metrics;
  /** Called after a guarded object was admitted for real (not a dry run): it may now exist. */
  readonly onGuardedAdmission?: () => void;
}

/** POST /validate and POST /mutate; anything else is not an admission request. */
export function admissionStage(req: IncomingMessage): Stage | undefined {
  if (req.method !== "POST") return undefined;
  const path = (req.url ?? "").split("?")[0];
  return path === "/validate" ? "validate" : path === "/mutate" ? "mutate" : undefined;
}

/** Sends a JSON answer, its body through `end` (batchedAnswers: with the turn's others). */
function jsonSender(end: EndAnswer) {
  return (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(text),
    });
    end(res, text);
  };
}

/** `?timeout=10s`: the API server's own deadline for this call. */
function timeoutParam(url: string | undefined): string | undefined {
  const query = (url ?? "").split("?")[1];
  return query ? (new URLSearchParams(query).get("timeout") ?? undefined) : undefined;
}

/**
 * The admission endpoints, served without a framework: this is the hot path, and every
 * microsecond here is spent in front of a user's `kubectl apply` (see bench/README.md).
 * Body → AdmissionReview → rules under the API server's deadline → answer. Objects the rules
 * do not guard are answered synchronously, with no promise or timer on their way.
 */
export function createAdmissionEndpoint(options: AdmissionEndpointOptions) {
  const { logger, metrics } = options;
  const sendJson = jsonSender(
    batchedAnswers((error) =>
      logger.error({ err: errorForLog(error) }, "admission answer could not be written"),
    ),
  );
  // The per-admission line holds known-safe fields only (admission-log.ts): no redaction pass.
  const admissionLogger = unredacted(logger);

  const respond = (
    res: ServerResponse,
    stage: Stage,
    request: AdmissionRequest,
    admission: Admission,
    since: number,
  ) => {
    const ms = performance.now() - since;
    metrics.recordAdmission(stage, request, admission, ms / 1000);
    if (stage === "validate" && admission.results.length > 0 && !request.dryRun)
      options.onGuardedAdmission?.();
    logAdmission(admissionLogger, stage, request, admission, ms);
    sendJson(res, 200, encodeReview(admission.response));
  };

  /**
   * The rules could not decide. Denied (fail closed), with a message that quotes nothing from
   * the object or the error: an error raised while reading the object may hold its text.
   */
  const refuse = (
    res: ServerResponse,
    stage: Stage,
    request: AdmissionRequest,
    error: unknown,
    timedOut: boolean,
    budgetMs: number,
  ) => {
    logger.error(
      { stage, uid: uidForLog(request.uid), err: errorForLog(error), timedOut },
      timedOut ? "admission timed out" : "admission failed",
    );
    sendJson(
      res,
      200,
      encodeReview({
        uid: request.uid,
        allowed: false,
        status: timedOut
          ? {
              code: 504,
              reason: "Timeout",
              message: `nebula-br-webhook could not decide within ${budgetMs} ms (the cluster view did not answer); try again`,
            }
          : {
              code: 400,
              reason: "BadRequest",
              message: UNCHECKABLE,
            },
      }),
    );
  };

  /** Rules that read Secrets or NebulaBackups wait on the API server: bounded by its deadline. */
  const judgeWithDeadline = async (
    req: IncomingMessage,
    res: ServerResponse,
    stage: Stage,
    request: AdmissionRequest,
    plan: JudgePlan,
    started: number,
  ) => {
    const deadline = deadlineFor(timeoutParam(req.url));
    try {
      respond(
        res,
        stage,
        request,
        await deadline.run((signal) => judge(request, stage, plan, options, signal)),
        started,
      );
    } catch (error) {
      refuse(res, stage, request, error, deadline.expired(), deadline.budgetMs);
    } finally {
      deadline.clear();
    }
  };

  const handle = (
    req: IncomingMessage,
    res: ServerResponse,
    stage: Stage,
    body: BodyResult,
  ): void => {
    if (!body.ok) {
      metrics.badRequests.inc({ reason: body.reason });
      sendJson(res, body.status, { error: body.error });
      return;
    }
    const started = performance.now();
    const decoded = decodeReview(body.value);
    if (!decoded.ok) {
      metrics.badRequests.inc({ reason: "malformed review" });
      logger.warn(
        { stage, uid: uidForLog(decoded.error.uid), reason: decoded.error.reason },
        "bad admission review",
      );
      if (decoded.error.uid === undefined) {
        sendJson(res, 400, { error: decoded.error.reason });
      } else {
        // The API server can read this one: a denial that says what was wrong.
        sendJson(
          res,
          200,
          encodeReview({
            uid: decoded.error.uid,
            allowed: false,
            status: {
              code: 400,
              reason: "BadRequest",
              message: `malformed AdmissionReview: ${decoded.error.reason}`,
            },
          }),
        );
      }
      return;
    }
    const request = decoded.request;
    let plan: Plan;
    try {
      plan = planAdmission(request, stage, options.config);
    } catch (error) {
      refuse(res, stage, request, error, false, 0);
      return;
    }
    if (plan.kind === "answered") {
      respond(res, stage, request, plan.admission, started);
    } else if (plan.secrets.length === 0 && plan.nebulaBackups.length === 0) {
      // Memory only (the cluster view's cache): no I/O to bound with a deadline.
      judge(request, stage, plan, options, NEVER)
        .then((admission) => respond(res, stage, request, admission, started))
        .catch((error: unknown) => {
          // The rules failed, or (a bug of ours) respond did after they decided: either way
          // an answer, and no unhandled rejection to end the process.
          if (res.headersSent) logger.error({ stage, err: errorForLog(error) }, "answer failed");
          else refuse(res, stage, request, error, false, 0);
        });
    } else {
      void judgeWithDeadline(req, res, stage, request, plan, started);
    }
  };

  return (req: IncomingMessage, res: ServerResponse, stage: Stage): void => {
    readJsonBody(req, options.maxBodyBytes, (body) => {
      try {
        handle(req, res, stage, body);
      } catch (error) {
        // Only a bug of ours gets here (every input has its answer above): still no echo.
        logger.error({ stage, err: errorForLog(error) }, "admission endpoint failed");
        if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
      }
    });
  };
}
