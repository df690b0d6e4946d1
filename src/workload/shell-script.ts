/**
 * A small, total reader of POSIX shell scripts, for finding the commands a container runs.
 * It reads what it can be certain of (quotes, escapes, `$VAR` and `${VAR}` references,
 * separators, redirections) and gives up, with a reason, on everything whose effect it could
 * only guess (command substitution, `${VAR:-…}`, here-documents, loops, functions, `eval`):
 * the caller decides whether that matters. It never throws.
 */

/** Marks a variable reference inside a word: VAR_START + name + VAR_END. */
export const VAR_START = "\uE000";
export const VAR_END = "\uE001";

export interface ShellWord {
  /** The word after quote removal, with variable references marked. */
  readonly text: string;
  /** Offset in the script just past the word's last character. */
  readonly end: number;
  /** An unquoted `*`, `?` or `[`: the shell would expand it to file names. */
  readonly glob: boolean;
}

/** Words of one simple command, between separators (`;`, `&&`, `|`, newline, …). */
export type ShellCommand = readonly ShellWord[];

export type ScriptReading =
  | { readonly ok: true; readonly commands: readonly ShellCommand[] }
  | { readonly ok: false; readonly reason: string };

/** Longer scripts are not read: no real backup script comes near it. */
const MAX_SCRIPT = 64 * 1024;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const SPECIAL_PARAMETER = /^[0-9@*#?$!-]/;

export function readShellScript(script: string): ScriptReading {
  // Variable marks may already be in the script: the kubelet's $(VAR) of an unknown value.
  if (script.length > MAX_SCRIPT) return { ok: false, reason: "the script is too long to read" };
  const commands: ShellWord[][] = [];
  let current: ShellWord[] = [];
  let word: string | undefined;
  let glob = false;
  let quotedPart = false;
  let skipNextWord = false; // the target of a redirection
  const fail = (reason: string): ScriptReading => ({ ok: false, reason });

  const endWord = (at: number) => {
    if (word === undefined) return;
    if (skipNextWord) skipNextWord = false;
    else current.push({ text: word, end: at, glob });
    word = undefined;
    glob = false;
    quotedPart = false;
  };
  const endCommand = () => {
    if (current.length > 0) commands.push(current);
    current = [];
  };
  const append = (text: string) => {
    word = (word ?? "") + text;
  };

  let i = 0;
  while (i < script.length) {
    const c = script[i] as string;
    const rest = script.slice(i);
    if (c === " " || c === "\t" || c === "\r") {
      endWord(i);
      i++;
    } else if (c === "\n") {
      endWord(i);
      if (skipNextWord) return fail("a redirection has no target");
      endCommand();
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
      const read = readDollar(script, i);
      if (!read.ok) return read;
      append(read.text);
      i = read.next;
    } else if (c === "`") {
      return fail("it uses `command substitution`");
    } else if (rest.startsWith("<<")) {
      return fail("it uses a here-document");
    } else if (rest.startsWith("<(") || rest.startsWith(">(")) {
      return fail("it uses process substitution");
    } else if (c === "<" || c === ">") {
      // A file descriptor number right before the operator belongs to it (2>&1).
      if (word !== undefined && /^\d+$/.test(word) && !quotedPart) word = undefined;
      else endWord(i);
      if (skipNextWord) return fail("a redirection has no target");
      const operator = rest.match(/^(>>|>&|<&|>\||<>|>|<)/)?.[0] ?? c;
      i += operator.length;
      skipNextWord = true;
    } else if (rest.startsWith(";;")) {
      return fail("it uses case");
    } else if (c === ";" || c === "&" || c === "|" || c === "(" || c === ")") {
      if (c === "(" && (word !== undefined || current.length > 0))
        return fail("it defines a function or uses ( inside a command");
      endWord(i);
      if (skipNextWord) return fail("a redirection has no target");
      endCommand();
      i += rest.startsWith("&&") || rest.startsWith("||") || rest.startsWith("|&") ? 2 : 1;
    } else {
      if (word === undefined) {
        word = "";
        quotedPart = false;
      }
      if (c === "*" || c === "?" || c === "[") glob = true;
      append(c);
      i++;
    }
  }
  endWord(script.length);
  if (skipNextWord) return fail("a redirection has no target");
  endCommand();
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
      const read = readDollar(script, i);
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
function readDollar(script: string, at: number): Read {
  const rest = script.slice(at + 1);
  if (rest.startsWith("(")) return { ok: false, reason: "it uses $(command substitution)" };
  if (rest.startsWith("'")) return { ok: false, reason: "it uses $'…' quoting" };
  if (rest.startsWith("{")) {
    const close = rest.indexOf("}");
    if (close < 0) return { ok: false, reason: "a ${ is not closed" };
    const inner = rest.slice(1, close);
    if (!(new RegExp(`${NAME.source}$`).test(inner) || /^[0-9@*#?$!-]$/.test(inner)))
      return { ok: false, reason: "it uses a ${…} expansion other than ${NAME}" };
    return { ok: true, text: `${VAR_START}${inner}${VAR_END}`, next: at + 2 + close + 1 };
  }
  const name = rest.match(NAME)?.[0] ?? rest.match(SPECIAL_PARAMETER)?.[0];
  if (name === undefined) return { ok: true, text: "$", next: at + 1 };
  return { ok: true, text: `${VAR_START}${name}${VAR_END}`, next: at + 1 + name.length };
}

/** The variable names a word refers to. */
export function variablesIn(text: string): string[] {
  const names: string[] = [];
  const pattern = new RegExp(`${VAR_START}([^${VAR_END}]*)${VAR_END}`, "g");
  for (const match of text.matchAll(pattern)) names.push(match[1] as string);
  return names;
}

/**
 * Replaces variable references with their values; undefined when a referenced variable has
 * no value the webhook can know.
 */
export function expandVariables(
  text: string,
  values: ReadonlyMap<string, string | undefined>,
): string | undefined {
  let unknown = false;
  const pattern = new RegExp(`${VAR_START}([^${VAR_END}]*)${VAR_END}`, "g");
  const expanded = text.replace(pattern, (_whole, name: string) => {
    const value = values.get(name);
    if (value === undefined) unknown = true;
    return value ?? "";
  });
  return unknown ? undefined : expanded;
}
