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

/** Per-admission lines are written out once this much is buffered, or every FLUSH_EVERY_MS. */
const BUFFER_BYTES = 4096;
const FLUSH_EVERY_MS = 500;

/**
 * pino's isoTime, formatted once per millisecond: `toISOString` cost about 2 µs of every
 * warned or denied admission under load (a CPU profile, issue 11), and a busy webhook writes
 * several lines within one millisecond. The same text as isoTime's, to the millisecond.
 */
export function isoTimeOncePerMs(now: () => number = Date.now): () => string {
  let formattedAt = Number.NaN;
  let formatted = "";
  return () => {
    const ms = now();
    if (ms !== formattedAt) {
      formattedAt = ms;
      formatted = `,"time":"${new Date(ms).toISOString()}"`;
    }
    return formatted;
  };
}

const OPTIONS = {
  name: "nebula-br-webhook",
  base: undefined,
  timestamp: isoTimeOncePerMs(),
} as const;

/** The buffered logger of the admission lines, beside the logger made with it. */
const admissionLoggers = new WeakMap<Logger, Logger>();

/**
 * Logs go to stdout asynchronously: a synchronous write per line costs more than judging a
 * request under load. What the webhook does (start, sync, leases, errors) is written as it
 * happens; the per-admission lines are buffered as klog buffers Kubernetes components' logs,
 * because a write per line, handed to libuv's thread pool, cost about as much CPU as judging
 * the request (bench/README.md). Such a line waits at most FLUSH_EVERY_MS; on exit (a signal,
 * or a crash through process 'exit') every buffer is written out, so only a SIGKILL loses that
 * much. `flushLogs` before exiting.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const logger = pino(
    { ...OPTIONS, level, redact: { paths: REDACT, censor: "[redacted]" } },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
  if (destination === undefined)
    admissionLoggers.set(logger, pino({ ...OPTIONS, level }, bufferedStdout()));
  return logger;
}

function bufferedStdout(): DestinationStream {
  const stream = pino.destination({ dest: 1, sync: false, minLength: BUFFER_BYTES });
  let waiting = false;
  // Only when a line waits: sonic-boom's flush hands a write to libuv's thread pool even with
  // nothing buffered (an empty one), and with a callback an fsync after it; an idle webhook
  // did both twice a second. Without a callback, flush throws on a destroyed stream.
  setInterval(() => {
    if (!waiting) return;
    waiting = false;
    try {
      stream.flush();
    } catch {
      // stdout is gone: nothing more can be written anyway
    }
  }, FLUSH_EVERY_MS).unref();
  return {
    write(line: string) {
      waiting = true;
      stream.write(line);
    },
    flush: (done?: (error?: Error) => void) => stream.flush(done),
  } as DestinationStream;
}

/**
 * The logger for lines built from known-safe fields only (see `logAdmission`): no redaction
 * (pino's wildcard redaction costs ~30 µs a line, ten times the line itself) and, for the
 * stdout logger, buffered. Only ever given such lines.
 */
export function unredacted(logger: Logger): Logger {
  return admissionLoggers.get(logger) ?? logger.child({}, { redact: [] });
}

/** Writes out what the asynchronous destinations still hold. */
export async function flushLogs(logger: Logger): Promise<void> {
  const flush = (target: Logger) => new Promise<void>((resolve) => target.flush(() => resolve()));
  const admissions = admissionLoggers.get(logger);
  await Promise.all([flush(logger), ...(admissions ? [flush(admissions)] : [])]);
}
