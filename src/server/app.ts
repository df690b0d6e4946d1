import express, { type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import { type AdmissionDeps, admit } from "../admission/admit.js";
import { decodeReview, encodeReview } from "../admission/review.js";
import type { Metrics } from "../metrics.js";
import { deadlineFor } from "./deadline.js";

export interface AppOptions extends AdmissionDeps {
  readonly logger: Logger;
  /** Largest AdmissionReview accepted; an object may be 1.5 MiB and comes with its old version. */
  readonly maxBodyBytes: number;
  readonly isReady: () => boolean;
  readonly metrics: Metrics;
  /** Called after a guarded object was admitted for real (not a dry run): it may now exist. */
  readonly onGuardedAdmission?: () => void;
}

/** The HTTP surface: admission endpoints, probes, and clear answers for bad requests. */
export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);

  app.get("/healthz", (_req, res) => {
    res.type("text/plain").send("ok");
  });
  app.get("/readyz", (_req, res) => {
    const ready = options.isReady();
    res
      .status(ready ? 200 : 503)
      .type("text/plain")
      .send(ready ? "ok" : "cluster view not synced");
  });

  app.get("/metrics", async (_req, res) => {
    res.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics());
  });

  const json = express.json({ limit: options.maxBodyBytes, type: () => true, strict: true });
  for (const stage of ["validate", "mutate"] as const) {
    app.post(
      `/${stage}`,
      requireJson(options.metrics),
      json,
      async (req: Request, res: Response) => {
        const started = process.hrtime.bigint();
        const decoded = decodeReview(req.body);
        if (!decoded.ok) {
          options.metrics.badRequests.inc({ reason: "malformed review" });
          options.logger.warn(
            { stage, uid: decoded.error.uid, reason: decoded.error.reason },
            "bad admission review",
          );
          if (decoded.error.uid === undefined) {
            res.status(400).json({ error: decoded.error.reason });
          } else {
            res.json(
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
        const deadline = deadlineFor(req.query.timeout);
        try {
          const admission = await deadline.run((signal) => admit(request, stage, options, signal));
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          options.metrics.recordAdmission(stage, request, admission, ms / 1000);
          if (stage === "validate" && admission.results.length > 0 && !request.dryRun) {
            options.onGuardedAdmission?.();
          }
          options.logger.info(
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
          res.json(encodeReview(admission.response));
        } catch (error) {
          const timedOut = deadline.expired();
          const message = timedOut
            ? `nebula-br-webhook could not decide within ${deadline.budgetMs} ms (the cluster view did not answer); try again`
            : `nebula-br-webhook failed while checking this object: ${(error as Error).message}`;
          options.logger.error(
            { stage, uid: request.uid, err: (error as Error).message, timedOut },
            "admission failed",
          );
          res.json(
            encodeReview({
              uid: request.uid,
              allowed: false,
              status: { code: timedOut ? 504 : 500, message },
            }),
          );
        } finally {
          deadline.clear();
        }
      },
    );
  }

  app.use((_req, res) => {
    res
      .status(404)
      .json({ error: "not found: use POST /validate or /mutate, GET /healthz or /readyz" });
  });
  app.use((error: HttpError, _req: Request, res: Response, _next: NextFunction) => {
    const status = error.status ?? error.statusCode ?? 500;
    const message =
      error.type === "entity.too.large"
        ? `request body exceeds ${options.maxBodyBytes} bytes`
        : error.type === "entity.parse.failed"
          ? "request body is not valid JSON"
          : status < 500
            ? error.message
            : "internal error";
    if (status >= 500) options.logger.error({ err: error.message }, "request failed");
    options.metrics.badRequests.inc({ reason: error.type ?? String(status) });
    res.status(status).json({ error: message });
  });
  return app;
}

interface HttpError extends Error {
  status?: number;
  statusCode?: number;
  type?: string;
}

const requireJson =
  (metrics: Metrics) =>
  (req: Request, res: Response, next: NextFunction): void => {
    if (!req.is("application/json")) {
      metrics.badRequests.inc({ reason: "content type" });
      res.status(415).json({
        error: `content type must be application/json, got ${JSON.stringify(req.headers["content-type"] ?? "")}`,
      });
      return;
    }
    next();
  };
