/**
 * Just enough of PromQL to say which metrics and labels an expression names: for checking
 * that dashboards and alert rules ask only for what the webhook exports. Not a parser: it
 * covers selectors, functions, aggregations with by/without, binary operators with
 * on/ignoring/group_left, ranges, offsets, numbers and Grafana's $variables.
 */

/** A metric an expression reads, with the labels its matchers name. */
export interface Selector {
  readonly metric: string;
  readonly matcherLabels: readonly string[];
}

export interface ExpressionNames {
  readonly selectors: readonly Selector[];
  /** Labels of by/without/on/ignoring/group_left/group_right clauses. */
  readonly groupingLabels: readonly string[];
}

const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "inf",
  "nan",
]);

const IDENTIFIER = /(?<![\w.:$])[a-zA-Z_:][a-zA-Z0-9_:]*/g;
const STRING = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g;
const LABEL_MATCHER =
  /([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')/g;
const GROUPING = /\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;

const labelsIn = (list: string): string[] =>
  list
    .split(",")
    .map((label) => label.trim())
    .filter(Boolean);

/** The metrics and labels `expr` names. Grafana's `label_values(metric, label)` too. */
export function namesIn(expr: string): ExpressionNames {
  const labelValues = expr.match(/^\s*label_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*(\w+)\s*\)\s*$/);
  if (labelValues)
    return {
      selectors: [{ metric: labelValues[1] as string, matcherLabels: [] }],
      groupingLabels: [labelValues[2] as string],
    };
  const selectors: Selector[] = [];
  const groupingLabels: string[] = [];
  // Grafana's variables ($__rate_interval, ${namespace}) stand for ranges and values.
  let rest = expr.replace(/\$\{[^}]*\}|\$\w+/g, "1m");
  // Selectors with braces: `metric{a="b"}` or `{__name__="metric"}`.
  rest = rest.replace(
    /([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}/g,
    (_all, metric: string | undefined, matchers: string) => {
      const labels = [...matchers.matchAll(LABEL_MATCHER)].map((m) => m[1] as string);
      const byName = matchers.match(/__name__\s*=\s*"([^"]+)"/);
      const name = metric ?? byName?.[1];
      if (name === undefined) throw new Error(`a selector without a metric name in ${expr}`);
      selectors.push({ metric: name, matcherLabels: labels.filter((l) => l !== "__name__") });
      return " ";
    },
  );
  rest = rest.replace(STRING, " ").replace(/\[[^\]]*\]/g, " ");
  rest = rest.replace(GROUPING, (_all, labels: string) => {
    groupingLabels.push(...labelsIn(labels));
    return " ";
  });
  // Durations after offset (`offset 5m`) and numbers (1e3, 0.99) are not names.
  rest = rest.replace(/\b\d+(?:\.\d+)?(?:e[+-]?\d+|[smhdwy]|ms)?\b/gi, " ");
  for (const match of rest.matchAll(IDENTIFIER)) {
    const word = match[0];
    const after = rest.slice((match.index ?? 0) + word.length).trimStart();
    if (after.startsWith("(") || KEYWORDS.has(word.toLowerCase())) continue;
    selectors.push({ metric: word, matcherLabels: [] });
  }
  return { selectors, groupingLabels };
}
