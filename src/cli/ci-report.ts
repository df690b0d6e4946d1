import { isAbsolute } from "node:path";
import { FAMILIES } from "../rules/registry.js";
import type { Rule, RuleMode } from "../rules/rule.js";

/**
 * Verdicts as CI systems read them: JUnit XML (GitLab, Jenkins, most CI test reports) and
 * SARIF 2.1.0 (GitHub code scanning). `check` and `audit` both reduce their results to
 * `CiCase`s, one per object and rule; these functions only format them. Every text comes
 * from a rule (its id, description and messages) or names the object and its file: nothing
 * else of the object is repeated.
 */

/**
 * How a case counts: `fail` is what blocks (a denial, a failed audit); `warn` and `note`
 * (recorded only: audit mode) are reported but pass; `pass` may carry what was completed.
 */
export type CiOutcome = "pass" | "fail" | "warn" | "note" | "skipped";

export interface CiCase {
  /** The JUnit suite: the manifest file for `check`, the kind for `audit`. */
  readonly suite: string;
  /** The manifest file (SARIF location); none for objects read from a cluster. */
  readonly file?: string;
  /** The line where the object's document starts in `file`. */
  readonly line?: number;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** The rule id; undefined for an object no rule guards. */
  readonly rule?: string;
  readonly outcome: CiOutcome;
  /** What happened, in the words of the text output: deny, warn, patch, audit, fail, pass. */
  readonly verdict: string;
  /** `path: message` lines, as the rule wrote them. */
  readonly messages: readonly string[];
}

export type CiFormat = "junit" | "sarif";

export function formatCi(cases: readonly CiCase[], format: CiFormat, title: string): string {
  return format === "junit" ? toJunit(cases, title) : toSarif(cases);
}

// --- JUnit XML ------------------------------------------------------------------------------

/** Characters XML 1.0 cannot hold at all (a control character in a file name, say). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters removed
const NOT_XML = /[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function xmlEscape(text: string): string {
  return text
    .replace(NOT_XML, "\uFFFD")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

const attributes = (values: Record<string, string | number | undefined>): string =>
  Object.entries(values)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => ` ${key}="${xmlEscape(String(value))}"`)
    .join("");

const objectTitle = (c: CiCase): string => `${c.kind} ${c.namespace}/${c.name}`;

function testcase(c: CiCase): string {
  const head = `    <testcase${attributes({
    classname: objectTitle(c),
    name: c.rule ?? "not guarded",
    file: c.file,
  })}`;
  const text = c.messages.map((m) => `[${c.rule}] ${m}`).join("\n");
  switch (c.outcome) {
    case "pass":
      // A pass may still say something: what the webhook completed (patch).
      if (c.messages.length === 0) return `${head}/>`;
      return `${head}>\n      <system-out>${xmlEscape(`${c.verdict.toUpperCase()}  ${text}`)}</system-out>\n    </testcase>`;
    case "skipped":
      return `${head}>\n      <skipped${attributes({ message: c.messages.join("; ") || c.verdict })}/>\n    </testcase>`;
    case "fail":
      return `${head}>\n      <failure${attributes({ type: c.verdict, message: c.messages[0] ?? c.verdict })}>${xmlEscape(text)}</failure>\n    </testcase>`;
    default:
      return `${head}>\n      <system-out>${xmlEscape(`${c.verdict.toUpperCase()}  ${text}`)}</system-out>\n    </testcase>`;
  }
}

interface Counts {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
}

const countCase = (counts: Counts, c: CiCase): void => {
  counts.tests++;
  if (c.outcome === "fail") counts.failures++;
  if (c.outcome === "skipped") counts.skipped++;
};

/** One `<testsuite>` per suite (file or kind), one `<testcase>` per object and rule. */
export function toJunit(cases: readonly CiCase[], title: string): string {
  return [...junitChunks(() => cases, title)].join("");
}

/**
 * JUnit XML a piece at a time, for outputs too large to hold as one string (an audit of
 * 100,000 objects). `cases` is read twice or more: once to count (the counts open the
 * document), then once per suite, or once in all when each suite's cases come together (the
 * audit lists kind by kind, `check` file by file).
 */
export function* junitChunks(cases: () => Iterable<CiCase>, title: string): Generator<string> {
  const total: Counts = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  const suites = new Map<string, Counts>();
  let together = true;
  let last: string | undefined;
  for (const c of cases()) {
    countCase(total, c);
    let suite = suites.get(c.suite);
    if (!suite) {
      suite = { tests: 0, failures: 0, errors: 0, skipped: 0 };
      suites.set(c.suite, suite);
    } else if (last !== c.suite) together = false;
    countCase(suite, c);
    last = c.suite;
  }
  yield `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites${attributes({ name: title, ...total })}>\n`;
  const open = (name: string) =>
    `  <testsuite${attributes({ name, ...(suites.get(name) as Counts) })}>\n`;
  if (together) {
    let current: string | undefined;
    for (const c of cases()) {
      if (c.suite !== current) {
        if (current !== undefined) yield "  </testsuite>\n";
        current = c.suite;
        yield open(c.suite);
      }
      yield `${testcase(c)}\n`;
    }
    if (current !== undefined) yield "  </testsuite>\n";
  } else {
    for (const name of suites.keys()) {
      yield open(name);
      for (const c of cases()) if (c.suite === name) yield `${testcase(c)}\n`;
      yield "  </testsuite>\n";
    }
  }
  yield "</testsuites>\n";
}

// --- SARIF 2.1.0 ----------------------------------------------------------------------------

const SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json";

type SarifLevel = "error" | "warning" | "note" | "none";

const LEVEL_OF_MODE: Record<RuleMode, SarifLevel> = {
  enforce: "error",
  warn: "warning",
  audit: "note",
  off: "none",
};

const LEVEL_OF_OUTCOME: Record<CiOutcome, SarifLevel> = {
  fail: "error",
  warn: "warning",
  note: "note",
  pass: "none",
  skipped: "none",
};

/** Every rule of the registry, once (workload families share some). */
function registryRules(): Rule[] {
  const seen = new Map<string, Rule>();
  for (const family of FAMILIES)
    for (const rule of family.rules) if (!seen.has(rule.id)) seen.set(rule.id, rule);
  return [...seen.values()];
}

function sarifRule(rule: Rule) {
  return {
    id: rule.id,
    name: rule.id,
    shortDescription: { text: rule.description },
    fullDescription: {
      text: `${rule.description.replace(/\.?$/, ".")} Default mode: ${rule.defaultMode}; set it per rule in the configuration (rules: {${rule.id}: enforce|warn|audit|off}).`,
    },
    defaultConfiguration: { level: LEVEL_OF_MODE[rule.defaultMode] },
    properties: { "default-mode": rule.defaultMode },
  };
}

/**
 * One result per finding that is not a pass, at the manifest file (and the line where the
 * object starts) when there is one; the message names the object, the field path and what
 * the rule says.
 */
export function toSarif(cases: readonly CiCase[]): string {
  return [...sarifChunks(cases)].join("");
}

/**
 * SARIF a result at a time, for outputs too large to hold as one string; the same text as
 * `JSON.stringify(sarif, null, 2)` of the whole document would be.
 */
export function* sarifChunks(cases: Iterable<CiCase>): Generator<string> {
  const rules = registryRules();
  const index = new Map(rules.map((rule, i) => [rule.id, i]));
  const frame = {
    $schema: SARIF_SCHEMA,
    version: "2.1.0",
    runs: [
      { tool: { driver: { name: "nebula-br-webhook", rules: rules.map(sarifRule) } }, results: [] },
    ],
  };
  // The document with an empty result list, cut where the results go.
  const text = JSON.stringify(frame, null, 2);
  const empty = '"results": []';
  const at = text.lastIndexOf(empty);
  const indent = "        ";
  let first = true;
  for (const c of cases) {
    if (c.rule === undefined || LEVEL_OF_OUTCOME[c.outcome] === "none") continue;
    for (const message of c.messages.length > 0 ? c.messages : [c.verdict]) {
      const result = {
        ruleId: c.rule,
        ...(index.has(c.rule) ? { ruleIndex: index.get(c.rule) } : {}),
        level: LEVEL_OF_OUTCOME[c.outcome],
        message: { text: `${objectTitle(c)}: ${message}` },
        locations: [
          {
            ...(c.file
              ? {
                  physicalLocation: {
                    artifactLocation: { uri: fileUri(c.file) },
                    region: { startLine: c.line ?? 1 },
                  },
                }
              : {}),
            logicalLocations: [
              {
                name: c.name,
                fullyQualifiedName: `${c.namespace}/${c.kind}/${c.name}`,
                kind: "object",
              },
            ],
          },
        ],
        properties: { verdict: c.verdict },
      };
      // JSON strings hold no raw newline: indenting every line nests the result in place.
      const body = `${indent}${JSON.stringify(result, null, 2).replace(/\n/g, `\n${indent}`)}`;
      yield first ? `${text.slice(0, at)}"results": [\n${body}` : `,\n${body}`;
      first = false;
    }
  }
  yield first ? `${text}\n` : `\n      ]${text.slice(at + empty.length)}\n`;
}

/**
 * A path as a SARIF artifact URI: a relative one (what code scanning matches against the
 * repository) stays relative, an absolute one becomes file:///…; each segment percent-encoded.
 */
function fileUri(file: string): string {
  const encoded = file
    .replace(/\\/g, "/")
    .split("/")
    .map((segment) => encodeURIComponent(segment))
    .join("/");
  return isAbsolute(file) ? `file://${encoded.startsWith("/") ? "" : "/"}${encoded}` : encoded;
}
