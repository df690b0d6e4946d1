import type { IncomingMessage } from "node:http";

export type BodyResult =
  | { ok: true; value: unknown }
  | { ok: false; status: 400 | 413 | 415; error: string; reason: string };

/**
 * Reads a JSON request body of at most `limit` bytes. A body declared or found larger is
 * refused without reading the rest; other content types are refused before reading at all.
 */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") {
    return Promise.resolve({
      ok: false,
      status: 415,
      reason: "content type",
      error: `content type must be application/json, got ${JSON.stringify(type ?? "")}`,
    });
  }
  const tooLarge: BodyResult = {
    ok: false,
    status: 413,
    reason: "entity.too.large",
    error: `request body exceeds ${limit} bytes`,
  };
  if (Number(req.headers["content-length"] ?? 0) > limit) {
    req.resume();
    return Promise.resolve(tooLarge);
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (result: BodyResult) => {
      if (done) return;
      done = true;
      resolve(result);
    };
    req.on("data", (chunk: Buffer) => {
      if (done) return;
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
  });
}
