import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { text as readAll } from "node:stream/consumers";
import {
  CST,
  type Document,
  Lexer,
  LineCounter,
  type ParseOptions,
  parseAllDocuments,
  type ScalarTag,
  stringify,
  type Tags,
} from "yaml";
import { isObject, type KubeObject } from "./objects.js";

/** One object read, with its file and the line its YAML document starts on (when known). */
export interface ManifestObject {
  readonly source: string;
  readonly object: KubeObject;
  readonly line?: number;
}

export type ManifestResult =
  | { ok: true; objects: ManifestObject[] }
  | { ok: false; reason: string };

/** The `-f` value that means standard input, as with kubectl. */
const STDIN = "-";
/** How objects read from standard input are named in reports and errors. */
const STDIN_SOURCE = "stdin";

/**
 * Parses a YAML (or JSON) stream into objects, unwrapping lists, and reads it as kubectl
 * does (see KUBECTL_YAML and indentLikeGoYaml). Every document must be a Kubernetes object,
 * a mapping with apiVersion and kind; anything else is an error naming the file and line.
 */
export function parseManifests(text: string, source: string): ManifestResult {
  const parsed = parseYamlStream(text);
  if (!parsed.ok) {
    // kubectl reads a stream that starts with `{` as concatenated JSON objects (`jq` output).
    const json = /^\s*\{/.test(text) ? parseJsonStream(text) : undefined;
    if (json === undefined) return { ok: false, reason: `${source}:${parsed.reason}` };
    return objectsFrom(
      json.map((value, index) => ({
        value,
        where: json.length > 1 ? `document ${index + 1}` : "",
      })),
      source,
    );
  }
  const values: { value: unknown; where: string; line?: number }[] = [];
  for (const document of parsed.documents) {
    const where = String(parsed.lines.linePos(document.range[0]).line);
    let value: unknown;
    try {
      value = document.toJS({ maxAliasCount: 100 });
    } catch (error) {
      // toJS throws on alias bombs ("Excessive alias count …").
      return { ok: false, reason: `${source}:${where}: ${(error as Error).message}` };
    }
    // Where the object itself starts (past `---` and comments), for reports that point at it.
    const start = (document.contents as { range?: [number, number, number] } | null)?.range?.[0];
    const line = start === undefined ? undefined : parsed.lines.linePos(start).line;
    if (value !== null && value !== undefined) values.push({ value, where, line });
  }
  return objectsFrom(values, source);
}

/**
 * Reads files, YAML/JSON files inside directories (recursively, in name order), and
 * standard input for `-` (at most once).
 */
export async function readManifests(
  paths: readonly string[],
  readStdin: () => Promise<string> = () => readAll(process.stdin),
): Promise<ManifestResult> {
  if (paths.filter((path) => path === STDIN).length > 1)
    return { ok: false, reason: "standard input (-f -) can be read only once" };
  const all: ManifestObject[] = [];
  for (const path of paths) {
    const texts = await readPath(path, readStdin);
    if (!texts.ok) return texts;
    for (const { source, text } of texts.texts) {
      const parsed = parseManifests(text, source);
      if (!parsed.ok) return parsed;
      all.push(...parsed.objects);
    }
  }
  return { ok: true, objects: all };
}

async function readPath(
  path: string,
  readStdin: () => Promise<string>,
): Promise<
  { ok: true; texts: { source: string; text: string }[] } | { ok: false; reason: string }
> {
  if (path === STDIN) {
    try {
      return { ok: true, texts: [{ source: STDIN_SOURCE, text: await readStdin() }] };
    } catch (error) {
      return { ok: false, reason: `cannot read standard input: ${describeError(error)}` };
    }
  }
  let files: string[];
  try {
    files = await manifestFiles(path);
  } catch (error) {
    return { ok: false, reason: `cannot read ${path}: ${describeError(error)}` };
  }
  const texts: { source: string; text: string }[] = [];
  for (const file of files) {
    try {
      texts.push({ source: file, text: await readFile(file, "utf8") });
    } catch (error) {
      return { ok: false, reason: `cannot read ${file}: ${describeError(error)}` };
    }
  }
  return { ok: true, texts };
}

function describeError(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

async function manifestFiles(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const entries = await readdir(path, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) files.push(...(await manifestFiles(full)));
    else if (/\.(ya?ml|json)$/.test(entry.name)) files.push(full);
  }
  return files;
}

// --- Objects: what kubectl takes for one ------------------------------------------------

/** Unwraps `kind: List` (or `JobList`, …) and checks that each item is an object kubectl takes. */
function objectsFrom(
  values: readonly { value: unknown; where: string; line?: number }[],
  source: string,
): ManifestResult {
  const objects: ManifestObject[] = [];
  for (const { value, where, line } of values) {
    const at = where === "" ? `${source}:` : `${source}:${where}:`;
    const isList =
      isObject(value) &&
      typeof value.kind === "string" &&
      value.kind.endsWith("List") &&
      Array.isArray(value.items);
    const items: unknown[] = isList ? (value.items as unknown[]) : [value];
    for (const [index, item] of items.entries()) {
      const problem = objectProblem(item);
      if (problem !== undefined)
        return { ok: false, reason: `${at}${isList ? ` items[${index}]:` : ""} ${problem}` };
      objects.push({ source, object: item as KubeObject, ...(line ? { line } : {}) });
    }
  }
  return { ok: true, objects };
}

/** Why kubectl would refuse to decode this as an object, or undefined. */
function objectProblem(value: unknown): string | undefined {
  if (!isObject(value))
    return `expected a Kubernetes object (a mapping with apiVersion and kind), found ${Array.isArray(value) ? "a list" : `a ${typeof value}`}`;
  if (typeof value.kind !== "string" || value.kind === "") return "the object has no kind";
  if (typeof value.apiVersion !== "string" || value.apiVersion === "")
    return `the ${value.kind} has no apiVersion`;
  const metadata = value.metadata;
  if (metadata === undefined || metadata === null) return undefined;
  if (!isObject(metadata)) return `metadata of the ${value.kind} is not a mapping`;
  for (const key of ["name", "generateName", "namespace"]) {
    if (metadata[key] !== undefined && metadata[key] !== null && typeof metadata[key] !== "string")
      return `metadata.${key} of the ${value.kind} is not a string`;
  }
  for (const key of ["labels", "annotations"]) {
    const map = metadata[key];
    if (map === undefined || map === null) continue;
    if (!isObject(map) || Object.values(map).some((v) => typeof v !== "string"))
      return `metadata.${key} of the ${value.kind} must map names to strings (quote numbers and booleans)`;
  }
  return undefined;
}

// --- YAML as kubectl reads it -----------------------------------------------------------

/**
 * Plain scalars resolve as go-yaml v2 (behind kubectl's sigs.k8s.io/yaml) resolves them:
 * YAML 1.1 booleans (`yes`, `on`, `n`) and octals (`0644`), `0o644` too; but no base-60
 * numbers (`1:20` stays a string) and no timestamps (dates stay strings). Of duplicate
 * keys the last wins, as in kubectl.
 */
const KUBECTL_YAML: ParseOptions & { version: "1.1"; customTags: (tags: Tags) => Tags } = {
  version: "1.1",
  uniqueKeys: false,
  prettyErrors: false,
  customTags: (tags) => [
    ...tags.filter(
      (tag) =>
        typeof tag === "string" || (tag.format !== "TIME" && !tag.tag.endsWith(":timestamp")),
    ),
    OCTAL_0O,
  ],
};

const OCTAL_0O: ScalarTag = {
  tag: "tag:yaml.org,2002:int",
  default: true,
  format: "OCT",
  test: /^[-+]?0o[0-7_]+$/,
  resolve: (source) => {
    const value = Number.parseInt(source.replace(/[-+_]|0o/g, ""), 8);
    return source.startsWith("-") ? -value : value;
  },
};

/** YAML that kubectl reads back as the same values (`"yes"`, `"0o644"` stay strings). */
export function stringifyForKubectl(value: unknown): string {
  return stringify(value, KUBECTL_YAML);
}

type YamlStream =
  | { ok: true; documents: Document.Parsed[]; lines: LineCounter }
  | { ok: false; reason: string };

/**
 * Parses with KUBECTL_YAML; when that fails, once more after indentLikeGoYaml. An error
 * is reported as `line:column: message`, positioned in the text as written.
 */
function parseYamlStream(text: string): YamlStream {
  const first = parseAllWithLines(text);
  if (first.error === undefined) return { ok: true, ...first };
  const indented = indentLikeGoYaml(text);
  const second = indented.text === text ? first : parseAllWithLines(indented.text);
  if (second.error === undefined) return { ok: true, ...second };
  // An unclosed quote runs to the end of the file: point at where it opens instead.
  const unclosed = second.error.message.includes("closing") ? indented.unclosedQuote : undefined;
  const { line, col } = second.lines.linePos(unclosed ?? second.error.pos[0]);
  const column = Math.max(1, col - (indented.added.get(line) ?? 0));
  const message =
    unclosed === undefined
      ? second.error.message
      : "this quoted string is not closed before the end of its document";
  return { ok: false, reason: `${line}:${column}: invalid YAML: ${message}` };
}

function parseAllWithLines(text: string) {
  const lines = new LineCounter();
  const documents = parseAllDocuments(text, { ...KUBECTL_YAML, lineCounter: lines });
  // parseAllDocuments returns an EmptyStream (not an array) for a text without documents.
  const list = Array.isArray(documents) ? documents : [];
  const error = list.flatMap((document) => document.errors)[0];
  return { documents: list, lines, error };
}

/**
 * go-yaml (kubectl) does not look at indentation inside quoted scalars and flow
 * collections; the `yaml` package does. The operator's samples rely on that:
 *
 *     command:
 *       - 'exec /usr/local/bin/br-ent backup full
 *       --meta META_ADDRESS:9559'
 *
 * has continuation lines no deeper than the `-`, and the `yaml` package stops the scalar
 * there ("Missing closing 'quote"). Leading white space on such lines is not part of the
 * value (YAML folds it away), so indenting them to the column where the scalar or the
 * outermost flow collection starts keeps every value and lets the `yaml` package read what
 * kubectl reads. Nothing else changes: a scalar that is never closed, or meets a document
 * marker (`---`, `...` at column 1), stays an error, as it is for go-yaml.
 *
 * Returns the text and, per 1-based line, the spaces added (to report columns as written).
 */
function indentLikeGoYaml(text: string): {
  text: string;
  added: Map<number, number>;
  unclosedQuote?: number;
} {
  const added = new Map<number, number>();
  let current = text;
  // Each round fixes the first place where the `yaml` lexer cuts something go-yaml reads on.
  for (let round = 0; round < 1000; round++) {
    const fix = firstCut(current);
    if (fix === undefined) break;
    if ("unclosedQuote" in fix) return { text: current, added, unclosedQuote: fix.unclosedQuote };
    const next = indentLines(current, fix.from, fix.to, fix.column, added);
    if (next === current) break;
    current = next;
  }
  return { text: current, added };
}

/** Lines in (from, to] must start at `column` or deeper; or a quote that go-yaml never closes. */
type Cut = { from: number; to: number; column: number } | { unclosedQuote: number };

function firstCut(text: string): Cut | undefined {
  let offset = 0;
  const openFlows: number[] = [];
  for (const token of new Lexer().lex(text)) {
    if (token === CST.DOCUMENT || token === CST.SCALAR) continue;
    const at = offset;
    if (token === CST.FLOW_END) {
      // The lexer gave up on a flow collection at this under-indented line.
      const outermost = openFlows[0];
      const lineStart = text.lastIndexOf("\n", at - 1) + 1;
      if (outermost === undefined || isDocumentMarker(text, lineStart)) return undefined;
      return { from: lineStart - 1, to: lineStart, column: columnOf(text, outermost) };
    }
    offset += token.length;
    if (token === "[" || token === "{") openFlows.push(at);
    else if (token === "]" || token === "}") openFlows.pop();
    else if (token[0] === "'" || token[0] === '"') {
      const close = closingQuote(text, at);
      if (close === undefined) return { unclosedQuote: at }; // go-yaml fails too
      if (at + token.length - 1 < close)
        return { from: at, to: close, column: columnOf(text, openFlows[0] ?? at) };
    }
  }
  return undefined;
}

/** Where go-yaml ends the quoted scalar opening at `at`; undefined if it fails to. */
function closingQuote(text: string, at: number): number | undefined {
  const quote = text[at];
  for (let i = at + 1; i < text.length; i++) {
    if (text[i - 1] === "\n" && isDocumentMarker(text, i)) return undefined;
    const char = text[i];
    if (quote === "'" && char === "'") {
      if (text[i + 1] !== "'") return i;
      i++; // '' is an escaped quote
    } else if (quote === '"' && char === "\\") {
      i++; // the escaped character, a line break included
    } else if (quote === '"' && char === '"') {
      return i;
    }
  }
  return undefined;
}

function isDocumentMarker(text: string, lineStart: number): boolean {
  const marker = text.slice(lineStart, lineStart + 3);
  return (marker === "---" || marker === "...") && /^\s?$/.test(text[lineStart + 3] ?? "");
}

function columnOf(text: string, offset: number): number {
  return offset - (text.lastIndexOf("\n", offset - 1) + 1);
}

/** Indents each non-blank line that starts in (from, to] to at least `column` spaces. */
function indentLines(
  text: string,
  from: number,
  to: number,
  column: number,
  added: Map<number, number>,
): string {
  let out = "";
  let copied = 0;
  let line = text.slice(0, from).split("\n").length; // 1-based line holding `from`
  for (let newline = text.indexOf("\n", from); newline !== -1 && newline < to; ) {
    const start = newline + 1;
    line++;
    let spaces = 0;
    while (text[start + spaces] === " ") spaces++;
    const rest = text[start + spaces];
    const blank = rest === undefined || rest === "\n" || rest === "\r";
    if (!blank && spaces < column) {
      out += `${text.slice(copied, start)}${" ".repeat(column - spaces)}`;
      copied = start;
      added.set(line, (added.get(line) ?? 0) + column - spaces);
    }
    newline = text.indexOf("\n", start);
  }
  return out + text.slice(copied);
}

// --- JSON streams -----------------------------------------------------------------------

/** Concatenated JSON values (`{…}{…}` or one per line), or undefined if the text is not that. */
function parseJsonStream(text: string): unknown[] | undefined {
  const values: unknown[] = [];
  let i = 0;
  while (true) {
    while (i < text.length && /\s/.test(text[i] ?? "")) i++;
    if (i >= text.length) return values;
    const end = endOfJsonValue(text, i);
    if (end === undefined) return undefined;
    try {
      values.push(JSON.parse(text.slice(i, end + 1)));
    } catch {
      return undefined;
    }
    i = end + 1;
  }
}

/** The index of the `}` or `]` closing the object or array that starts at `start`. */
function endOfJsonValue(text: string, start: number): number | undefined {
  if (text[start] !== "{" && text[start] !== "[") return undefined;
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === "\\") i++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === "{" || char === "[") depth++;
    else if (char === "}" || char === "]") {
      depth--;
      if (depth === 0) return i;
    }
  }
  return undefined;
}
