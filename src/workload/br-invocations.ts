import { field, isObject } from "../kube/objects.js";
import {
  expandVariables,
  readShellScript,
  type ShellWord,
  VAR_END,
  VAR_START,
  variablesIn,
} from "./shell-script.js";

/**
 * What runs BR in one container: every br-ent (or nebula-br) call in its command, args and
 * scripts, through the usual wrappers, or why the webhook cannot tell. This is the one model
 * of "BR in a pod spec" that every workload kind and the audit read.
 */

export type ContainerList = "initContainers" | "containers" | "ephemeralContainers";

/** Where an argv item sits in a container (`command[2]`, `args[0]`). */
export interface ArgvLocation {
  readonly list: "command" | "args";
  readonly index: number;
}

/** A flag's value as br-ent would get it; `resolved` is false when it depends on something unknown. */
export interface FlagValue {
  /** The value, with unknown variables shown as `$NAME`. */
  readonly text: string;
  readonly resolved: boolean;
  /** Variables the value needs that have no value the webhook knows. */
  readonly unknownVariables: readonly string[];
}

/** Where `--meta <address>` can be written into the container, for the mutation. */
export type MetaInsertion =
  | { readonly form: "script"; readonly at: ArgvLocation; readonly offset: number }
  | { readonly form: "exec"; readonly at: ArgvLocation };

export interface BrInvocation {
  /** `shell`: inside an `sh -c` script; `exec`: the container's argv runs br-ent itself. */
  readonly form: "shell" | "exec";
  /** The item that holds the call: the script, or the binary in the exec form. */
  readonly at: ArgvLocation;
  /** `backup`, `restore`, `cleanup`, `show`, `version`, … (undefined: br-ent alone). */
  readonly verb: string | undefined;
  /** The verb or mode comes from a variable the webhook cannot know. */
  readonly verbUnknown: boolean;
  /** `full` or `incr`. */
  readonly mode: string | undefined;
  readonly flags: ReadonlyMap<string, FlagValue | true>;
  /** Words br-ent would choke on, described without their text (it may be a credential). */
  readonly strayWords: readonly string[];
  /** Items after an `sh -c` script: the shell hands them to it as $0 $1 …, never to br-ent. */
  readonly strayItems: readonly string[];
  /** Where `--meta` can be added, when the webhook can write it there exactly. */
  readonly metaInsertion: MetaInsertion | undefined;
}

export interface ContainerReading {
  readonly list: ContainerList;
  readonly index: number;
  /** The image is br-ent's: its entrypoint, and anything it runs, may be BR. */
  readonly brImage: boolean;
  /** Something in the container names br-ent or nebula-br (image, command, args, env). */
  readonly mentionsBr: boolean;
  readonly invocations: readonly BrInvocation[];
  /** Why the webhook cannot tell what BR this container runs (empty when it can). */
  readonly unreadable: readonly string[];
  /** Env values the webhook knows (literal `value`s); `undefined` for valueFrom ones. */
  readonly env: ReadonlyMap<string, string | undefined>;
}

/** br-ent, nebula-br (its older name) and release binaries such as br-ent-3.7.0-linux-amd64. */
const BR_BINARY = /^(br-ent|nebula-br)(-v?\d[\w.-]*)?$/;
/** Our own tools (nebula-br-webhook) or a bucket named nebula-br-test are not BR. */
const BR_MENTION = /(^|[^\w-])(br-ent|nebula-br)(-v?\d[\w.-]*)?(?![\w-])/;

export const isBrBinary = (word: string): boolean => BR_BINARY.test(basename(word));
export const mentionsBrBinary = (text: string): boolean => BR_MENTION.test(text);

export function imageRunsBrEnt(image: unknown): boolean {
  if (typeof image !== "string") return false;
  const withoutDigest = image.split("@")[0] ?? "";
  const lastSegment = withoutDigest.split("/").pop() ?? "";
  return lastSegment.split(":")[0] === "br-ent";
}

const basename = (word: string): string => word.slice(word.lastIndexOf("/") + 1);

const SHELLS = new Set(["sh", "bash", "ash", "dash", "zsh", "ksh", "mksh"]);

/** Programs that cannot run BR, whatever their arguments say (echo "starting br-ent"…). */
const HARMLESS = new Set([
  "echo",
  "printf",
  "sleep",
  "true",
  "false",
  "test",
  "[",
  "date",
  "mkdir",
  "ls",
  "pwd",
  "cd",
  "set",
  "exit",
  "wait",
  "export",
  "unset",
  "umask",
  "ulimit",
  "hostname",
  "id",
  "whoami",
  "uname",
  "df",
  "du",
  "touch",
  "cat",
  "head",
  "tail",
  "grep",
  "wc",
  "sync",
  "tee",
  ":",
]);

/** Shell keywords and grouping words that only wrap the command after them. */
const PREFIX_KEYWORDS = new Set([
  "if",
  "then",
  "elif",
  "else",
  "fi",
  "while",
  "until",
  "do",
  "done",
  "!",
  "{",
  "}",
  "time",
]);

/** Constructs whose effect the webhook would have to guess. */
const OPAQUE = new Set([
  "for",
  "case",
  "select",
  "function",
  "eval",
  "source",
  ".",
  "alias",
  "trap",
  "xargs",
  "sudo",
  "su",
  "watch",
  "find",
  "parallel",
]);

/** Flags of br-ent that take no value. */
const BOOLEAN_FLAGS = new Set(["enable-ssl", "insecure-skip-verify", "debug"]);

/** Dashes that look like "-" in a document but are other characters to br-ent. */
const TYPOGRAPHIC_DASH = /^[\u2010-\u2015\u2212\ufe58\ufe63\uff0d]/;

/** One word of a command, with where it came from. */
interface Word {
  /** Text with unknown variables marked (see shell-script.ts). */
  readonly text: string;
  readonly glob: boolean;
  /** For exec-form words: the argv item. */
  readonly item?: ArgvLocation;
  /** The item reads as written: the kubelet's $(VAR) expansion changed nothing in it. */
  readonly exact?: boolean;
  /** For words of a top-level script: its item and the end offset in it. */
  readonly scriptEnd?: { readonly at: ArgvLocation; readonly offset: number };
}

interface Reader {
  /** The container mentions BR or runs the br-ent image: what cannot be read matters. */
  readonly relevant: boolean;
  readonly brImage: boolean;
  readonly invocations: BrInvocation[];
  readonly unreadable: string[];
}

/** Reads one container of a pod spec; total: any input gives a reading. */
export function readContainer(
  container: unknown,
  list: ContainerList,
  index: number,
): ContainerReading {
  const image = isObject(container) ? container.image : undefined;
  const brImage = imageRunsBrEnt(image);
  const env = literalEnv(container);
  const command = stringList(field(container, "command"));
  const args = stringList(field(container, "args"));
  const raw = [...command, ...args];
  const mentionsBr =
    brImage ||
    raw.some(mentionsBrBinary) ||
    [...env.values()].some((v) => v !== undefined && mentionsBrBinary(v));
  const reader: Reader = { relevant: mentionsBr, brImage, invocations: [], unreadable: [] };
  const reading = (): ContainerReading => ({
    list,
    index,
    brImage,
    mentionsBr,
    invocations: reader.invocations,
    unreadable: [...new Set(reader.unreadable)],
    env,
  });
  if (!mentionsBr) return reading();
  if (raw.some((item) => item.includes(VAR_START) || item.includes(VAR_END))) {
    reader.unreadable.push("its command holds characters from Unicode's private use area");
    return reading();
  }
  const location = (i: number): ArgvLocation =>
    i < command.length
      ? { list: "command", index: i }
      : { list: "args", index: i - command.length };
  const words: Word[] = raw.map((item, i) => {
    const text = kubernetesExpand(item, env);
    return { text, glob: false, item: location(i), exact: text === item };
  });
  if (command.length === 0 && brImage) {
    // No command: the image's entrypoint, br-ent, gets the args (unless they start a shell).
    const first = words[0]?.text ?? "";
    if (!SHELLS.has(basename(first)) && !first.startsWith("/"))
      words.unshift({ text: "br-ent", glob: false });
  }
  if (words.length === 0) return reading();
  readCommand(words, variablesFrom(env), reader, "exec", true);
  return reading();
}

/**
 * Follows one simple command through wrappers and shells to the program it runs.
 * `topLevel` is true for the container's argv and the words of its own `sh -c` script, whose
 * positions in the object are known (for the --meta mutation).
 */
function readCommand(
  words: readonly Word[],
  variables: Map<string, string | undefined>,
  reader: Reader,
  form: "exec" | "shell",
  topLevel: boolean,
): void {
  let rest = [...words];
  const env = new Map(variables);
  const unreadable = (reason: string) => {
    if (reader.relevant) reader.unreadable.push(reason);
  };
  // Assignments before the command set its environment; alone they set shell variables.
  if (form === "shell") {
    while (rest[0] && /^[A-Za-z_][A-Za-z0-9_]*=/.test(rest[0].text)) {
      const [name, value] = splitAssignment(rest[0].text);
      env.set(name, expand(value, env));
      rest = rest.slice(1);
    }
    if (rest.length === 0) {
      for (const [name, value] of env) variables.set(name, value);
      return;
    }
  }
  for (let guard = 0; rest.length > 0 && guard < 64; guard++) {
    const first = rest[0] as Word;
    const program = expand(first.text, env);
    if (program === undefined || first.glob || program.includes("$")) {
      if (rest.some((w) => mentionsBrBinary(w.text)) || reader.relevant)
        unreadable("it runs a command named by a variable or a file pattern");
      return;
    }
    const name = basename(program);
    if (form === "shell" && PREFIX_KEYWORDS.has(program)) {
      rest = rest.slice(1);
      continue;
    }
    if (OPAQUE.has(name)) {
      unreadable(`it uses ${name}, whose effect the webhook cannot read`);
      return;
    }
    if (isBrBinary(program)) {
      reader.invocations.push(brCall(rest.slice(1), first, env, form, topLevel));
      return;
    }
    if (name === "export" || name === "readonly" || name === "declare" || name === "local") {
      for (const word of rest.slice(1)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(word.text)) continue;
        const [variable, value] = splitAssignment(word.text);
        variables.set(variable, expand(value, env));
      }
      return;
    }
    if (HARMLESS.has(name)) return;
    const unwrapped = unwrap(name, rest, env);
    if (unwrapped === "opaque") {
      unreadable(`it runs ${name} in a way the webhook cannot read`);
      return;
    }
    if (unwrapped) {
      rest = unwrapped;
      continue;
    }
    if (SHELLS.has(name)) {
      readShell(rest.slice(1), env, reader, topLevel && form === "exec");
      return;
    }
    if (rest.some((w) => mentionsBrBinary(w.text)))
      unreadable(
        "it passes br-ent to another program (a copy, a link or an interpreter of it cannot be read)",
      );
    else if (reader.brImage)
      unreadable(
        "in the br-ent image it runs another program, which could be br-ent under another name",
      );
    return;
  }
}

/** The words after a wrapper (`exec`, `env`, `tini --`…), or undefined when it is none. */
function unwrap(
  name: string,
  words: readonly Word[],
  env: Map<string, string | undefined>,
): Word[] | "opaque" | undefined {
  let rest = words.slice(1);
  const text = (i: number) => rest[i]?.text ?? "";
  const dropOptions = (withValue: ReadonlySet<string>) => {
    while (rest.length > 0 && text(0).startsWith("-") && text(0) !== "-") {
      if (text(0) === "--") {
        rest = rest.slice(1);
        break;
      }
      rest = rest.slice(withValue.has(text(0)) ? 2 : 1);
    }
  };
  switch (name) {
    case "exec":
      dropOptions(new Set(["-a"]));
      return rest;
    case "command":
    case "builtin":
    case "nohup":
    case "setsid":
      dropOptions(new Set());
      return rest;
    case "nice":
    case "ionice":
    case "stdbuf":
    case "chrt":
    case "taskset":
      dropOptions(new Set(["-n", "-c", "-p", "-i", "-o", "-e"]));
      if (name === "chrt" || name === "taskset") rest = rest.slice(1); // priority or mask
      return rest;
    case "timeout":
      dropOptions(new Set(["-s", "-k", "--signal", "--kill-after"]));
      return rest.slice(1); // the duration
    case "tini":
    case "dumb-init":
    case "catatonit":
      dropOptions(new Set(["-p", "-e", "-r", "--rewrite"]));
      return rest;
    case "su-exec":
    case "gosu":
      return rest.slice(1); // the user
    case "busybox":
      return rest;
    case "env": {
      while (rest.length > 0) {
        const word = text(0);
        if (word === "-S" || word.startsWith("--split-string") || word.startsWith("-S"))
          return "opaque";
        if (word === "-u" || word === "-C" || word === "--unset" || word === "--chdir") {
          rest = rest.slice(2);
        } else if (word === "--") {
          rest = rest.slice(1);
          break;
        } else if (word.startsWith("-")) {
          rest = rest.slice(1);
        } else if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(word)) {
          const [variable, value] = splitAssignment(word);
          env.set(variable, expand(value, env));
          rest = rest.slice(1);
        } else break;
      }
      return rest;
    }
    default:
      return undefined;
  }
}

/** `sh [options] -c SCRIPT [$0 $1 …]`, or a script file, or standard input. */
function readShell(
  words: readonly Word[],
  env: Map<string, string | undefined>,
  reader: Reader,
  itemsKnown: boolean,
): void {
  let command = false;
  let i = 0;
  for (; i < words.length; i++) {
    const option = words[i]?.text ?? "";
    if (option === "--") {
      i++;
      break;
    }
    if (!/^[-+]/.test(option) || option === "-" || option === "+") break;
    if (option === "-o" || option === "+o" || option === "--rcfile" || option === "--init-file") {
      i++;
      continue;
    }
    if (!option.startsWith("--") && option.slice(1).includes("c")) command = true;
  }
  const script = words[i];
  if (!command || !script) {
    if (reader.relevant)
      reader.unreadable.push(
        "it runs a shell on a script file or standard input, which the webhook cannot read; put the script in the command with sh -c",
      );
    return;
  }
  const text = expand(script.text, env);
  if (text === undefined || script.glob) {
    if (reader.relevant) reader.unreadable.push("its sh -c script comes from a variable");
    return;
  }
  const parsed = readShellScript(text);
  if (!parsed.ok) {
    if (reader.relevant || mentionsBrBinary(text))
      reader.unreadable.push(`its script cannot be read with certainty: ${parsed.reason}`);
    return;
  }
  const strayItems = words.slice(i + 1).map((w) => w.text);
  // Positional parameters ($0, $1, "$@") come from those items: the webhook does not follow them.
  const variables = new Map(env);
  const before = reader.invocations.length;
  for (const shellWords of parsed.commands) {
    const commandWords = shellWords.map((w) =>
      scriptWord(w, itemsKnown && script.exact ? script.item : undefined),
    );
    readCommand(commandWords, variables, reader, "shell", itemsKnown);
  }
  if (strayItems.length > 0) {
    for (let k = before; k < reader.invocations.length; k++) {
      const call = reader.invocations[k] as BrInvocation;
      reader.invocations[k] = { ...call, strayItems };
    }
  }
}

function scriptWord(word: ShellWord, item: ArgvLocation | undefined): Word {
  return {
    text: word.text,
    glob: word.glob,
    scriptEnd: item ? { at: item, offset: word.end } : undefined,
  };
}

/** Reads `br-ent <verb> <mode> --flag value …`. */
function brCall(
  words: readonly Word[],
  binary: Word,
  env: ReadonlyMap<string, string | undefined>,
  form: "exec" | "shell",
  topLevel: boolean,
): BrInvocation {
  const positional: Word[] = [];
  const flags = new Map<string, FlagValue | true>();
  const strayWords: string[] = [];
  const value = (word: Word): FlagValue => {
    const expanded = expand(word.text, env);
    return expanded === undefined
      ? {
          text: showVariables(word.text),
          resolved: false,
          unknownVariables: variablesIn(word.text).filter((name) => env.get(name) === undefined),
        }
      : { text: expanded, resolved: !word.glob, unknownVariables: [] };
  };
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as Word;
    const text = word.text;
    if (text === "-" || text === "--") {
      strayWords.push(`a lone "${text}"`);
      continue;
    }
    if (TYPOGRAPHIC_DASH.test(text)) {
      strayWords.push("a word that starts with a typographic dash instead of -");
      continue;
    }
    if (!/^--?[A-Za-z]/.test(text)) {
      positional.push(word);
      continue;
    }
    const name = text.replace(/^-+/, "");
    const eq = name.indexOf("=");
    if (eq >= 0) {
      flags.set(name.slice(0, eq), value({ ...word, text: name.slice(eq + 1) }));
      continue;
    }
    const next = words[i + 1];
    if (
      next !== undefined &&
      !BOOLEAN_FLAGS.has(name) &&
      !next.text.startsWith("-") &&
      !TYPOGRAPHIC_DASH.test(next.text)
    ) {
      flags.set(name, value(next));
      i++;
    } else {
      flags.set(name, true);
    }
  }
  for (const _extra of positional.slice(2))
    strayWords.push("a word that is neither a flag nor its value");
  const verbWord = positional[0];
  const last = positional[1] ?? verbWord;
  const verb = verbWord ? expand(verbWord.text, env) : undefined;
  const mode = positional[1] ? expand(positional[1].text, env) : undefined;
  const verbUnknown =
    (verbWord !== undefined && (verb === undefined || verbWord.glob)) ||
    (positional[1] !== undefined && (mode === undefined || positional[1].glob));
  return {
    verbUnknown,
    form,
    at:
      form === "exec"
        ? (binary.item ?? { list: "args", index: 0 })
        : (binary.scriptEnd?.at ?? { list: "command", index: 0 }),
    verb,
    mode,
    flags,
    strayWords,
    strayItems: [],
    metaInsertion: topLevel ? insertionAfter(last) : undefined,
  };
}

function insertionAfter(word: Word | undefined): MetaInsertion | undefined {
  if (word?.scriptEnd)
    return { form: "script", at: word.scriptEnd.at, offset: word.scriptEnd.offset };
  if (word?.item) return { form: "exec", at: word.item };
  return undefined;
}

/** Flag values for messages and checks: unknown variables as `$NAME`. */
function showVariables(text: string): string {
  let shown = text;
  for (const name of variablesIn(text))
    shown = shown.replace(`${VAR_START}${name}${VAR_END}`, `$${name}`);
  return shown;
}

function expand(text: string, env: ReadonlyMap<string, string | undefined>): string | undefined {
  return expandVariables(text, env);
}

function splitAssignment(text: string): [string, string] {
  const eq = text.indexOf("=");
  return [text.slice(0, eq), text.slice(eq + 1)];
}

/** Variables a shell in the container starts with: the container's env. */
function variablesFrom(
  env: ReadonlyMap<string, string | undefined>,
): Map<string, string | undefined> {
  return new Map(env);
}

/** A command or args list; one with a non-string item is not one the API server would store. */
function stringList(value: unknown): string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string") ? value : [];
}

/**
 * The container's env as the kubelet sets it: literal values (with `$(VAR)` references to
 * earlier entries expanded), and valueFrom entries as unknown.
 */
function literalEnv(container: unknown): Map<string, string | undefined> {
  const env = new Map<string, string | undefined>();
  const list = field(container, "env");
  if (!Array.isArray(list)) return env;
  for (const item of list) {
    const name = field(item, "name");
    if (typeof name !== "string") continue;
    const value = field(item, "value");
    if (typeof value === "string") {
      const expanded = kubernetesExpand(value, env);
      env.set(name, expanded.includes(VAR_START) ? undefined : expanded);
    } else env.set(name, undefined);
  }
  return env;
}

/**
 * The kubelet's own expansion of `$(VAR)` in command, args and env values, before any shell:
 * a known literal is substituted, a valueFrom one becomes an unknown variable, an undefined
 * one stays as written, and `$$` is a literal `$`.
 */
export function kubernetesExpand(
  text: string,
  env: ReadonlyMap<string, string | undefined>,
): string {
  return text.replace(
    /\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g,
    (whole, name: string | undefined) => {
      if (whole === "$$") return "$";
      if (name === undefined || !env.has(name)) return whole;
      const value = env.get(name);
      return value ?? `${VAR_START}${name}${VAR_END}`;
    },
  );
}
