import type { IncomingMessage } from "node:http";

export type BodyResult =
  | { ok: true; value: unknown }
  | { ok: false; status: 400 | 413 | 415; error: string; reason: string };

/**
 * Reads a JSON request body of at most `limit` bytes and calls `done` once. A body declared
 * or found larger is refused without reading the rest; other content types are refused
 * before reading at all. (A callback, not a promise: this is on every request's path.)
 */
export function readJsonBody(
  req: IncomingMessage,
  limit: number,
  done: (result: BodyResult) => void,
): void {
  const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") {
    req.resume();
    done({
      ok: false,
      status: 415,
      reason: "content type",
      error: `content type must be application/json, got ${JSON.stringify(type ?? "")}`,
    });
    return;
  }
  const tooLarge: BodyResult = {
    ok: false,
    status: 413,
    reason: "entity.too.large",
    error: `request body exceeds ${limit} bytes`,
  };
  if (Number(req.headers["content-length"] ?? 0) > limit) {
    req.resume();
    done(tooLarge);
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (result: BodyResult) => {
    if (finished) return;
    finished = true;
    done(result);
  };
  req.on("data", (chunk: Buffer) => {
    if (finished) return;
    size += chunk.length;
    if (size > limit) {
      chunks.length = 0;
      req.resume(); // drain what is still coming, keep nothing
      finish(tooLarge);
      return;
    }
    chunks.push(chunk);
  });
  req.on("error", () =>
    finish({
      ok: false,
      status: 400,
      reason: "aborted",
      error: "request body could not be read",
    }),
  );
  req.on("end", () => {
    try {
      finish({ ok: true, value: JSON.parse(Buffer.concat(chunks, size).toString("utf8")) });
    } catch {
      finish({
        ok: false,
        status: 400,
        reason: "entity.parse.failed",
        error: "request body is not valid JSON",
      });
    }
  });
}
