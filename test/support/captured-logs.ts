import { Writable } from "node:stream";
import type { Logger } from "pino";
import { createLogger } from "../../src/log.js";

/** The webhook's logger, writing into `lines` (one entry per line) for a test to read back. */
export function capturedLogs(level: string): { readonly logger: Logger; readonly lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger(level, sink), lines };
}
