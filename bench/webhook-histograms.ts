/**
 * Histograms the webhook's /metrics serves, read as counts: its garbage collections
 * (`nodejs_gc_duration_seconds` by kind, prom-client's default metrics) and its own time per
 * answer (`admission_duration_seconds` by stage). Tallied before and after the rounds through
 * the API server, they say whether a slow create waited on the webhook's work or its
 * collections (each pauses the admission running then), or on something outside it.
 */
export const GC_SECONDS = "nebula_br_webhook_nodejs_gc_duration_seconds";
export const ANSWER_SECONDS = "nebula_br_webhook_admission_duration_seconds";
/** kube-apiserver's own timing of each call it makes to a webhook, by webhook name. */
export const API_SERVER_WEBHOOK_SECONDS = "apiserver_admission_webhook_admission_duration_seconds";

export interface Tally {
  readonly count: number;
  readonly seconds: number;
  /** Upper bound (`le`, as written) → observations at most that long. */
  readonly atMost: Readonly<Record<string, number>>;
}

/** Label value (a GC kind, a stage) → its tally. */
export type Tallies = Readonly<Record<string, Tally>>;

/** Reads `metric`'s histogram, split by `label`, from a /metrics text (Prometheus format). */
export function talliesOf(metricsText: string, metric: string, label: string): Tallies {
  return talliesBy(metricsText, metric, (labels) => labels[label]);
}

/**
 * Reads `metric`'s histogram, its series summed by `keyOf` their labels (undefined: left out).
 * Every series of one key must have the same buckets, as Prometheus histograms do.
 */
export function talliesBy(
  metricsText: string,
  metric: string,
  keyOf: (labels: Readonly<Record<string, string>>) => string | undefined,
): Tallies {
  const found: Record<string, { count: number; seconds: number; atMost: Record<string, number> }> =
    {};
  const pattern = new RegExp(`^${metric}_(bucket|sum|count)\\{([^}]*)\\} (\\S+)$`);
  for (const line of metricsText.split("\n")) {
    const match = line.match(pattern);
    if (!match) continue;
    const labels: Record<string, string> = Object.fromEntries(
      [...(match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    const key = keyOf(labels);
    if (key === undefined) continue;
    const tally = found[key] ?? { count: 0, seconds: 0, atMost: {} };
    found[key] = tally;
    const value = Number(match[3]);
    if (match[1] === "sum") tally.seconds += value;
    else if (match[1] === "count") tally.count += value;
    else if (labels.le !== undefined)
      tally.atMost[labels.le] = (tally.atMost[labels.le] ?? 0) + value;
  }
  return found;
}

/** What was observed between two readings of the same process. */
export function talliesSince(before: Tallies, after: Tallies): Tallies {
  return Object.fromEntries(
    Object.entries(after).map(([key, now]) => {
      const then = before[key];
      return [
        key,
        {
          count: now.count - (then?.count ?? 0),
          seconds: now.seconds - (then?.seconds ?? 0),
          atMost: Object.fromEntries(
            Object.entries(now.atMost).map(([le, n]) => [le, n - (then?.atMost[le] ?? 0)]),
          ),
        },
      ];
    }),
  );
}

/** Observations longer than `le` (one of the histogram's bounds, as written: "0.01"). */
export const longerThan = (tally: Tally | undefined, le: string): number =>
  tally ? tally.count - (tally.atMost[le] ?? 0) : 0;
