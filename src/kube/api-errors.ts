/** The HTTP status of a failed @kubernetes/client-node call, when it got that far. */
export function statusCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "number" ? code : undefined;
}

/** A short reason for a failed API call, without bodies or headers (which could carry a token). */
export function describeApiError(error: unknown): string {
  const code = statusCode(error);
  if (code !== undefined) return `the API server answered HTTP ${code}`;
  const cause = (error as { cause?: { code?: string } } | undefined)?.cause?.code;
  if (cause) return cause;
  return error instanceof Error
    ? (error.message.split("\n")[0]?.slice(0, 200) ?? "error")
    : String(error);
}

/**
 * Retries a call the API server asked us to repeat (429 or 503, e.g. "storage is
 * (re)initializing" just after a CRD is established), waiting Retry-After (1 s by default),
 * as client-go does. Any other error, or the last attempt's, is thrown.
 */
export async function retryWhenAsked<T>(call: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const code = statusCode(error);
      if ((code !== 429 && code !== 503) || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, retryAfterMs(error)));
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
