/**
 * A small, total reader of POSIX shell scripts, for finding the commands a container runs.
 * It reads what it can be certain of (quotes, escapes, `$VAR` and `${VAR}` references,
 * separators, redirections) and gives up, with a reason, on everything whose effect it could
 * only guess (command substitution, `${VAR:-…}`, here-documents, loops, functions, `eval`):
 * the caller decides whether that matters. It never throws.
 */

/**
 * Marks a variable reference inside a word: VAR_START + name + VAR_END when it is inside
 * double quotes, VAR_SPLIT + name + VAR_END when it is not (the shell then splits its value
 * into words and expands patterns in it).
 */
export const VAR_START = "\uE000";
export const VAR_END = "\uE001";
export const VAR_SPLIT = "\uE002";
/** A `$(VAR)` the kubelet expands before the program starts, to a value the webhook cannot see. */
export const VAR_KUBELET = "\uE003";

export interface ShellWord {
  /** The word after quote removal, with variable references marked. */
  readonly text: string;
  /** Offset in the script just past the word's last character. */
  readonly end: number;
  /** An unquoted `*`, `?`, `[` or `{`: the shell would expand it to file names or words. */
  readonly glob: boolean;
  /** The target of a redirection (`> file`): not an argument, but a file the command touches. */
  readonly redirect: boolean;
}

/** Words of one simple command, between separators (`;`, `&&`, `|`, newline, …). */
export interface ShellCommand {
  readonly words: readonly ShellWord[];
  /**
   * It may not run, or runs in a subshell, so what it assigns is not known afterwards:
   * after `&&`, `||` or `|`, before `|` or `&`, or inside parentheses.
   */
  readonly conditional: boolean;
}

export type ScriptReading =
  | { readonly ok: true; readonly commands: readonly ShellCommand[] }
  | { readonly ok: false; readonly reason: string };

/** Longer scripts are not read: no real backup script comes near it. */
const MAX_SCRIPT = 64 * 1024;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const WHOLE_NAME = new RegExp(`${NAME.source}$`);
const SPECIAL_PARAMETER = /^[0-9@*#?$!-]/;
/** Words that group commands or test (`{ …; }`, `[ … ]`) when they stand alone, unquoted. */
const GROUPING_WORDS = new Set(["{", "}", "[", "[[", "]", "]]"]);
/** Characters with no meaning to the shell inside a word: read as one run (`#` only starts a comment at a word's start). */
const PLAIN_RUN = /[^ \t\n'"\\$`<>;&|()]+/y;
const PATTERN_CHARACTER = /[*?[{]/;
const REDIRECTION = /(>>|>&|<&|>\||<>|&>|>|<)/y;
const SEPARATOR = /(&&|\|\||\|&|;|&|\||\(|\))/y;

/** The operator a sticky pattern matches at `at`, if any. */
function operatorAt(pattern: RegExp, script: string, at: number): string | undefined {
  pattern.lastIndex = at;
  return pattern.exec(script)?.[0];
}

export function readShellScript(script: string): ScriptReading {
  // Variable marks may already be in the script: the kubelet's $(VAR) of an unknown value.
  if (script.length > MAX_SCRIPT) return { ok: false, reason: "the script is too long to read" };
  const commands: ShellCommand[] = [];
  let current: ShellWord[] = [];
  let word: string | undefined;
  let glob = false;
  let quotedPart = false;
  let redirectTarget = false; // the next word is the target of a redirection
  let afterOperator = ""; // the operator before the current command
  let depth = 0; // parentheses
  const fail = (reason: string): ScriptReading => ({ ok: false, reason });

  const endWord = (at: number) => {
    if (word === undefined) return;
    // A lone { or } groups commands, [ and [[ test: anywhere else these may expand.
    const isGroup = !quotedPart && GROUPING_WORDS.has(word);
    current.push({ text: word, end: at, glob: glob && !isGroup, redirect: redirectTarget });
    redirectTarget = false;
    word = undefined;
    glob = false;
    quotedPart = false;
  };
  const endCommand = (nextOperator: string) => {
    if (current.length > 0) {
      const conditional =
        depth > 0 ||
        afterOperator === "&&" ||
        afterOperator === "||" ||
        afterOperator === "|" ||
        afterOperator === "|&" ||
        nextOperator === "|" ||
        nextOperator === "|&" ||
        nextOperator === "&";
      commands.push({ words: current, conditional });
    }
    current = [];
    afterOperator = nextOperator;
  };
  const append = (text: string) => {
    word = (word ?? "") + text;
  };

  let i = 0;
  while (i < script.length) {
    const c = script[i] as string;
    // Only space, tab and newline separate words: a carriage return is part of a word to sh.
    if (c === " " || c === "\t") {
      endWord(i);
      i++;
    } else if (c === "\n") {
      endWord(i);
      if (redirectTarget) return fail("a redirection has no target");
      endCommand(";");
      i++;
    } else if (c === "#" && word === undefined) {
      const newline = script.indexOf("\n", i);
      i = newline < 0 ? script.length : newline;
    } else if (c === "'") {
      const close = script.indexOf("'", i + 1);
      if (close < 0) return fail("a single quote is not closed");
      append(script.slice(i + 1, close));
      quotedPart = true;
      i = close + 1;
    } else if (c === '"') {
      const read = readDoubleQuoted(script, i + 1);
      if (!read.ok) return read;
      append(read.text);
      quotedPart = true;
      i = read.next;
    } else if (c === "\\") {
      if (script[i + 1] === "\n") i += 2;
      else {
        append(script[i + 1] ?? "");
        quotedPart = true;
        i += 2;
      }
    } else if (c === "$") {
      const read = readDollar(script, i, false);
      if (!read.ok) return read;
      append(read.text);
      i = read.next;
    } else if (c === "`") {
      return fail("it uses `command substitution`");
    } else if (script.startsWith("<<", i)) {
      return fail("it uses a here-document");
    } else if (script.startsWith("<(", i) || script.startsWith(">(", i)) {
      return fail("it uses process substitution");
    } else if (c === "<" || c === ">") {
      // A file descriptor number right before the operator belongs to it (2>&1).
      if (word !== undefined && /^\d+$/.test(word) && !quotedPart) word = undefined;
      else endWord(i);
      if (redirectTarget) return fail("a redirection has no target");
      const operator = operatorAt(REDIRECTION, script, i) ?? c;
      i += operator.length;
      redirectTarget = true;
    } else if (script.startsWith(";;", i)) {
      return fail("it uses case");
    } else if (script.startsWith("&>", i)) {
      endWord(i);
      if (redirectTarget) return fail("a redirection has no target");
      i += script.startsWith("&>>", i) ? 3 : 2;
      redirectTarget = true;
    } else if (c === ";" || c === "&" || c === "|" || c === "(" || c === ")") {
      if (c === "(" && (word !== undefined || current.length > 0))
        return fail("it defines a function or uses ( inside a command");
      endWord(i);
      if (redirectTarget) return fail("a redirection has no target");
      const operator = operatorAt(SEPARATOR, script, i) ?? c;
      endCommand(operator === "(" || operator === ")" ? ";" : operator);
      if (operator === "(") depth++;
      if (operator === ")") depth = Math.max(0, depth - 1);
      i += operator.length;
    } else {
      if (word === undefined) {
        word = "";
        quotedPart = false;
      }
      PLAIN_RUN.lastIndex = i;
      const run = PLAIN_RUN.exec(script)?.[0] ?? c;
      if (PATTERN_CHARACTER.test(run)) glob = true;
      append(run);
      i += run.length;
    }
  }
  endWord(script.length);
  if (redirectTarget) return fail("a redirection has no target");
  endCommand(";");
  return { ok: true, commands };
}

type Read = { ok: true; text: string; next: number } | { ok: false; reason: string };

function readDoubleQuoted(script: string, start: number): Read {
  let text = "";
  let i = start;
  while (i < script.length) {
    const c = script[i] as string;
    if (c === '"') return { ok: true, text, next: i + 1 };
    if (c === "\\" && i + 1 < script.length) {
      const next = script[i + 1] as string;
      if (next === "\n") i += 2;
      else if ('$`"\\'.includes(next)) {
        text += next;
        i += 2;
      } else {
        text += c;
        i++;
      }
    } else if (c === "$") {
      const read = readDollar(script, i, true);
      if (!read.ok) return read;
      text += read.text;
      i = read.next;
    } else if (c === "`") {
      return { ok: false, reason: "it uses `command substitution`" };
    } else {
      text += c;
      i++;
    }
  }
  return { ok: false, reason: "a double quote is not closed" };
}

/** `$NAME`, `${NAME}`, `$1`, `$@`…; refuses what only running the shell could tell. */
function readDollar(script: string, at: number, quoted: boolean): Read {
  const start = quoted ? VAR_START : VAR_SPLIT;
  const rest = script.slice(at + 1);
  if (rest.startsWith("(")) return { ok: false, reason: "it uses $(command substitution)" };
  if (rest.startsWith("'")) return { ok: false, reason: "it uses $'…' quoting" };
  if (rest.startsWith("{")) {
    const close = rest.indexOf("}");
    if (close < 0) return { ok: false, reason: "a ${ is not closed" };
    const inner = rest.slice(1, close);
    if (!(WHOLE_NAME.test(inner) || /^[0-9@*#?$!-]$/.test(inner)))
      return { ok: false, reason: "it uses a ${…} expansion other than ${NAME}" };
    return { ok: true, text: `${start}${inner}${VAR_END}`, next: at + 2 + close + 1 };
  }
  const name = rest.match(NAME)?.[0] ?? rest.match(SPECIAL_PARAMETER)?.[0];
  if (name === undefined) return { ok: true, text: "$", next: at + 1 };
  return { ok: true, text: `${start}${name}${VAR_END}`, next: at + 1 + name.length };
}

const REFERENCE = new RegExp(
  `([${VAR_START}${VAR_SPLIT}${VAR_KUBELET}])([^${VAR_END}]*)${VAR_END}`,
  "g",
);

/** A variable reference starts here: most words hold none, and are then taken as they are. */
const REFERENCE_START = new RegExp(`[${VAR_START}${VAR_SPLIT}${VAR_KUBELET}]`);

/** The variable names a word refers to. */
export function variablesIn(text: string): string[] {
  if (!REFERENCE_START.test(text)) return [];
  return [...text.matchAll(REFERENCE)].map((match) => match[2] as string);
}

/**
 * Replaces variable references with their values; undefined when a referenced variable has
 * no value the webhook can know.
 */
export function expandVariables(
  text: string,
  values: ReadonlyMap<string, string | undefined>,
): string | undefined {
  if (!REFERENCE_START.test(text)) return text;
  let unknown = false;
  const expanded = text.replace(REFERENCE, (_whole, _mark: string, name: string) => {
    const value = values.get(name);
    if (value === undefined) unknown = true;
    return value ?? "";
  });
  return unknown ? undefined : expanded;
}

/**
 * Unquoted references the shell would split into several words, or expand as patterns: an
 * unknown value (it might), or a known one with blanks or pattern characters (it does).
 */
export function splitReferences(
  text: string,
  values: ReadonlyMap<string, string | undefined>,
): string[] {
  if (!REFERENCE_START.test(text)) return [];
  const splitting: string[] = [];
  for (const match of text.matchAll(REFERENCE)) {
    // "$@" and "$*" become several words even inside quotes.
    if (match[1] !== VAR_SPLIT && match[2] !== "@" && match[2] !== "*") continue;
    const value = values.get(match[2] as string);
    if (value === undefined || /[\s*?[\]{}]/.test(value)) splitting.push(match[2] as string);
  }
  return splitting;
}
