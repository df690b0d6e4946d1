/** The API server's own per-call timeout arrives as `?timeout=10s`; it caps ours. */
const DEFAULT_BUDGET_MS = 10_000;
/** Leave the API server time to read our answer before its own timer fires. */
const MARGIN_MS = 250;

export interface Deadline {
  readonly budgetMs: number;
  run<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T>;
  expired(): boolean;
  clear(): void;
}

export function parseTimeout(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const match = value.match(/^(\d+(?:\.\d+)?)(ms|s|m)$/);
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = match[2] === "ms" ? 1 : match[2] === "s" ? 1000 : 60_000;
  return amount * unit;
}

/** A budget for one admission: work gets an AbortSignal and loses the race when it expires. */
export function deadlineFor(timeoutParam: unknown): Deadline {
  const requested = parseTimeout(timeoutParam) ?? DEFAULT_BUDGET_MS;
  const budgetMs = Math.max(50, Math.min(requested, DEFAULT_BUDGET_MS * 3) - MARGIN_MS);
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  return {
    budgetMs,
    run(work) {
      const expiry = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          controller.abort();
          reject(new Error("deadline exceeded"));
        }, budgetMs);
      });
      return Promise.race([work(controller.signal), expiry]);
    },
    expired: () => controller.signal.aborted,
    clear: () => clearTimeout(timer),
  };
}
