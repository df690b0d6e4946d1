/**
 * Go's `time.ParseDuration`, which the operator uses for `maxReservedTime` and robfig/cron
 * for `@every`: a sign, then one or more decimal numbers each with a unit (`1h30m`, `1.5h`,
 * `300ms`), or a bare `0`. Days (`7d`) are not a Go unit.
 */
const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  "\u00b5s": 1e-3, // micro sign
  "\u03bcs": 1e-3, // Greek mu
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const TERM = /(\d*)(?:\.(\d*))?([a-z\u00b5\u03bc]+)/y;

/** The duration in milliseconds, or undefined when Go would not parse it. */
export function parseGoDuration(text: string): number | undefined {
  let rest = text;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    sign = rest.startsWith("-") ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") return undefined;
  let total = 0;
  TERM.lastIndex = 0;
  while (TERM.lastIndex < rest.length) {
    const at = TERM.lastIndex;
    const match = TERM.exec(rest);
    if (!match || match.index !== at) return undefined;
    const [, whole = "", fraction, unit = ""] = match;
    if (whole === "" && (fraction === undefined || fraction === "")) return undefined;
    const scale = UNIT_MS[unit];
    if (scale === undefined) return undefined;
    total += Number(`${whole || "0"}.${fraction || "0"}`) * scale;
  }
  return sign * total;
}
