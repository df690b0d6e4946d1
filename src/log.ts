import { type DestinationStream, type Logger, pino } from "pino";

/**
 * Credential-like fields are censored wherever they appear one level down; the webhook never
 * logs objects, Secret data or command lines in the first place, this is the second line.
 */
const REDACT = [
  "*.authorization",
  "*.Authorization",
  "*.token",
  "*.password",
  "*.data",
  "*.stringData",
  "*.access_key",
  "*.secret_key",
  '*["access-key"]',
  '*["secret-key"]',
  "*.credentials",
  "*.command",
  "*.args",
];

/**
 * Logs go to stdout asynchronously: a synchronous write per admission costs more than the
 * admission itself under load. `flushLogs` before exiting so that nothing is lost.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      name: "nebula-br-webhook",
      level,
      redact: { paths: REDACT, censor: "[redacted]" },
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/**
 * The same logger without redaction, for lines built from known-safe fields only (see
 * `logAdmission`): pino's wildcard redaction costs ~30 µs a line, ten times the line itself,
 * and the per-admission line is written on the hot path.
 */
export function unredacted(logger: Logger): Logger {
  return logger.child({}, { redact: [] });
}

/** Writes out what the asynchronous destination still holds. */
export function flushLogs(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}
