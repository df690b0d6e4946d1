import express, { type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import type { Metrics } from "../metrics.js";
import { errorForLog } from "./admission-log.js";

export interface AppOptions {
  readonly logger: Logger;
  readonly isReady: () => boolean;
  readonly metrics: Metrics;
}

/**
 * Everything but the admission endpoints (which serve-side code routes to
 * admission-endpoint.ts first): probes, metrics, and clear answers for the rest.
 */
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

  app.use((_req, res) => {
    res.status(404).json({
      error: "not found: use POST /validate or /mutate, GET /healthz, /readyz or /metrics",
    });
  });
  app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
    options.logger.error({ err: errorForLog(error) }, "request failed"); // no message: it may quote the request
    res.status(500).json({ error: "internal error" });
  });
  return app;
}
