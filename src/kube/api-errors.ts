/** The HTTP status of a failed @kubernetes/client-node call, when it got that far. */
export function statusCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "number" ? code : undefined;
}

/** A short reason for a failed API call, without bodies or headers (which could carry a token). */
export function describeApiError(error: unknown): string {
  const code = statusCode(error);
  if (code !== undefined) return `the API server answered HTTP ${code}`;
  // A system or undici error's code (ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT), not its message,
  // which names addresses; fetch wraps such an error as its cause.
  for (const source of [error, (error as { cause?: unknown } | undefined)?.cause]) {
    const own = (source as { code?: unknown } | undefined)?.code;
    if (typeof own === "string" && /^[A-Z][A-Z0-9_]{1,40}$/.test(own)) return own;
  }
  return error instanceof Error
    ? (error.message.split("\n")[0]?.slice(0, 200) ?? "error")
    : String(error);
}

/**
 * Codes of a connection that was dropped under a request (undici's and Node's): a kept-alive
 * connection closed by the server, a load balancer or a restart just as the request went out.
 * Not a refused connection: that is an API server that is down, not a request to repeat.
 */
const DROPPED_CONNECTION = new Set(["UND_ERR_SOCKET", "ECONNRESET", "EPIPE", "UND_ERR_CLOSED"]);

/** Whether `error` (or a cause of it) is a dropped connection rather than an answer. */
export function droppedConnection(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && DROPPED_CONNECTION.has(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** How long to wait before sending a read again over a new connection. */
const RECONNECT_DELAY_MS = 100;

/**
 * For reads only (GET and LIST, which are safe to repeat). Retries a call the API server
 * asked us to repeat (429 or 503, e.g. "storage is (re)initializing" just after a CRD is
 * established), waiting Retry-After (1 s by default), as client-go does; and one whose
 * connection was dropped under it, at once over a new one, as Go's transport does for its
 * reads: one reset no longer fails an audit of 100,000 objects. Any other error, the last
 * attempt's, or one whose wait `mayWait` refuses (a read nobody will still be waiting for
 * by then), is thrown.
 */
export async function retryWhenAsked<T>(
  call: () => Promise<T>,
  attempts = 5,
  mayWait: (ms: number) => boolean = () => true,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const code = statusCode(error);
      const dropped = code === undefined && droppedConnection(error);
      if ((code !== 429 && code !== 503 && !dropped) || attempt >= attempts) throw error;
      const waitMs = dropped ? RECONNECT_DELAY_MS : retryAfterMs(error);
      if (!mayWait(waitMs)) throw error;
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }
}

function retryAfterMs(error: unknown): number {
  const body = (error as { body?: unknown } | undefined)?.body;
  try {
    const seconds = (typeof body === "string" ? JSON.parse(body) : body)?.details
      ?.retryAfterSeconds;
    if (typeof seconds === "number" && seconds > 0 && seconds <= 10) return seconds * 1000;
  } catch {
    // not JSON: use the default
  }
  return 1000;
}
