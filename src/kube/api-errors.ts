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
