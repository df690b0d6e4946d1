import { parseGoDuration } from "../kube/go-duration.js";

/**
 * The NebulaCronBackup schedule exactly as the operator reads it: robfig/cron v3
 * `ParseStandard`. Five fields (minute hour day-of-month month day-of-week), each a list of
 * `*`, `?`, `N`, `N-M`, with an optional `/step`; month and weekday names; the descriptors
 * `@yearly` … `@hourly` and `@every <Go duration>`; an optional `TZ=`/`CRON_TZ=` prefix.
 * Quartz extensions (`L`, `W`, `#`) and Jenkins' `H` are not part of it: the operator would
 * fail to schedule such a backup, so they are refused here.
 */

interface FieldBounds {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: Readonly<Record<string, number>>;
}

const MONTHS = Object.fromEntries(
  ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"].map(
    (name, i) => [name, i + 1],
  ),
);
const WEEKDAYS = Object.fromEntries(
  ["sun", "mon", "tue", "wed", "thu", "fri", "sat"].map((name, i) => [name, i]),
);

const FIELDS: readonly FieldBounds[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTHS },
  { name: "day of week", min: 0, max: 6, names: WEEKDAYS },
];

const DESCRIPTORS = new Set([
  "@yearly",
  "@annually",
  "@monthly",
  "@weekly",
  "@daily",
  "@midnight",
  "@hourly",
]);

const EXAMPLE = 'e.g. "0 3 * * *" or "@daily"';

/** Why robfig/cron's ParseStandard would refuse the schedule, or undefined when it accepts it. */
export function scheduleProblem(schedule: unknown): string | undefined {
  if (typeof schedule !== "string" || schedule === "") {
    return `is required; give a cron schedule, ${EXAMPLE} (off-peak: BR blocks DDL and DML while it runs)`;
  }
  let spec = schedule;
  if (spec.startsWith("TZ=") || spec.startsWith("CRON_TZ=")) {
    const space = spec.indexOf(" ");
    if (space < 0) return "has a time zone prefix but no schedule after it";
    const zone = spec.slice(spec.indexOf("=") + 1, space);
    if (!isTimeZone(zone))
      return "names a time zone that does not exist (use an IANA name such as Asia/Shanghai)";
    spec = spec.slice(space).trim();
  }
  if (spec.startsWith("@")) return descriptorProblem(spec);
  const fields = spec.split(/\s+/).filter((f) => f !== "");
  if (fields.length !== 5) {
    return `has ${fields.length} field${fields.length === 1 ? "" : "s"}; the operator's cron format has 5 (minute hour day-of-month month day-of-week), ${EXAMPLE}`;
  }
  for (const [i, text] of fields.entries()) {
    const problem = fieldProblem(text, FIELDS[i] as FieldBounds);
    if (problem) return problem;
  }
  return undefined;
}

function descriptorProblem(spec: string): string | undefined {
  if (DESCRIPTORS.has(spec)) return undefined;
  if (spec.startsWith("@every ")) {
    return parseGoDuration(spec.slice("@every ".length)) === undefined
      ? 'has an @every interval that is not a Go duration (e.g. "@every 6h" or "@every 90m"; days are not a unit)'
      : undefined;
  }
  return `is not a known descriptor; use one of ${[...DESCRIPTORS].join(", ")} or "@every <duration>"`;
}

function fieldProblem(text: string, bounds: FieldBounds): string | undefined {
  for (const part of text.split(",")) {
    const problem = rangeProblem(part, bounds);
    if (problem) return `${bounds.name} field: ${problem}`;
  }
  return undefined;
}

function rangeProblem(part: string, bounds: FieldBounds): string | undefined {
  const rangeAndStep = part.split("/");
  if (rangeAndStep.length > 2) return "has more than one /";
  const [range = "", stepText] = rangeAndStep;
  const lowAndHigh = range.split("-");
  let start = bounds.min;
  let end = bounds.max;
  if (lowAndHigh[0] !== "*" && lowAndHigh[0] !== "?") {
    if (lowAndHigh.length > 2) return "has more than one -";
    const low = fieldValue(lowAndHigh[0] ?? "", bounds);
    if (low === undefined) return notAValue(bounds);
    start = low;
    end = low;
    if (lowAndHigh.length === 2) {
      const high = fieldValue(lowAndHigh[1] ?? "", bounds);
      if (high === undefined) return notAValue(bounds);
      end = high;
    }
  }
  if (stepText !== undefined) {
    const step = plainNumber(stepText);
    if (step === undefined) return "has a step that is not a number";
    if (step === 0) return "has a step of 0; steps are positive";
    if (lowAndHigh.length === 1) end = bounds.max; // "N/step" means N to the maximum
  }
  if (start < bounds.min || end > bounds.max) return `is outside ${bounds.min}-${bounds.max}`;
  if (start > end) return "has a range whose start is after its end";
  return undefined;
}

const notAValue = (bounds: FieldBounds): string =>
  `is not a number${bounds.names ? " or name" : ""} in ${bounds.min}-${bounds.max} (the operator's cron has no L, W, # or H)`;

function fieldValue(text: string, bounds: FieldBounds): number | undefined {
  const named = bounds.names?.[text.toLowerCase()];
  return named ?? plainNumber(text);
}

/** Go's strconv.Atoi of a non-negative number. */
function plainNumber(text: string): number | undefined {
  return /^\+?\d{1,9}$/.test(text) ? Number(text) : undefined;
}

function isTimeZone(zone: string): boolean {
  if (zone === "" || zone === "Local") return true; // Go: UTC and the process's zone
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
