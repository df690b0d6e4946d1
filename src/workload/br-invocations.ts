import { field, isObject } from "../kube/objects.js";
import {
  expandVariables,
  readShellScript,
  type ShellWord,
  splitReferences,
  VAR_END,
  VAR_KUBELET,
  variablesIn,
} from "./shell-script.js";

/**
 * What runs BR in one container: every br-ent (or nebula-br) call in its command, args,
 * scripts, lifecycle hooks and exec probes, through the usual wrappers, or why the webhook
 * cannot tell. This is the one model of "BR in a pod spec" that every workload kind and the
 * audit read.
 */

export type ContainerList = "initContainers" | "containers" | "ephemeralContainers";

/** Where an argv item sits in a container (`command[2]`, `args[0]`, a hook's or probe's command). */
export interface ArgvLocation {
  readonly list: "command" | "args" | "handler";
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
  /** `shell`: inside an `sh -c` script; `exec`: an argv runs br-ent itself. */
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
  /**
   * Unquoted variables in the call that the shell may split into more words (an unknown
   * value, or one with blanks): `--storage $S` with S="s3://b --meta other" adds a flag.
   */
  readonly splitVariables: readonly string[];
  /** Where `--meta` can be added, when the webhook can write it there exactly. */
  readonly metaInsertion: MetaInsertion | undefined;
}

export interface ContainerReading {
  readonly list: ContainerList;
  readonly index: number;
  /** The image is br-ent's (or the pod mounts one): its entrypoint, and anything it runs, may be BR. */
  readonly brImage: boolean;
  /** Something in the container names br-ent or nebula-br (image, command, args, env, hooks, probes). */
  readonly mentionsBr: boolean;
  readonly invocations: readonly BrInvocation[];
  /** Why the webhook cannot tell what BR this container runs (empty when it can). */
  readonly unreadable: readonly string[];
  /** Env values the webhook knows (literal `value`s); `undefined` for valueFrom ones. */
  readonly env: ReadonlyMap<string, string | undefined>;
}

/** What the whole pod offers its containers. */
export interface PodContext {
  /** A volume of the pod is a br-ent image (an image volume): any container may run it. */
  readonly brVolume: boolean;
}

/** br-ent, nebula-br (its older name) and release binaries such as br-ent-3.7.0-linux-amd64. */
const BR_BINARY = /^(br-ent|nebula-br)(-v?\d+\.\d+[\w.-]*)?$/;
/**
 * Our own tools (nebula-br-webhook), a cluster nebula-br-1, a bucket nebula-br-test or a log
 * file br-ent.log are not BR.
 */
const BR_MENTION = /(^|[^\w-])(br-ent|nebula-br)(-v?\d+\.\d+[\w.-]*)?(?![\w.-])/;

export const isBrBinary = (word: string): boolean => BR_BINARY.test(basename(word));
export const mentionsBrBinary = (text: string): boolean => BR_MENTION.test(text);

/**
 * Images that ship br-ent: `vesoft/br-ent`, mirrors such as `team/vesoft-br-ent`, tools
 * images with br-ent in their name, and the older `vesoft/nebula-br`. Not our own
 * `nebula-br-webhook`.
 */
export function imageRunsBrEnt(image: unknown): boolean {
  if (typeof image !== "string") return false;
  const withoutDigest = image.split("@")[0] ?? "";
  const name = (withoutDigest.split("/").pop() ?? "").split(":")[0]?.toLowerCase() ?? "";
  return name.includes("br-ent") || name === "nebula-br" || /^nebula-br[-_.]v?\d/.test(name);
}

const basename = (word: string): string => word.slice(word.lastIndexOf("/") + 1);

const SHELLS = new Set(["sh", "bash", "ash", "dash", "zsh", "ksh", "mksh"]);

/** Programs that only print: what their arguments say ("starting br-ent …") runs nothing. */
const PRINTERS = new Set(["echo", "printf"]);

/**
 * Programs that cannot run BR. Their arguments still must not name the binary (cat of
 * br-ent into a file copies it), and in the br-ent image not hide it (a pattern or unknown
 * variable could name it).
 */
const HARMLESS = new Set([
  ...PRINTERS,
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
  "let",
  "getopts",
  "coproc",
  "hash",
  "enable",
]);

/** Builtins that assign variables from input the webhook cannot see. */
const READERS = new Set(["read", "readarray", "mapfile"]);

/** Variables that change which program runs or what a shell does before the command. */
const STEERING_VARIABLES = new Set([
  "PATH",
  "IFS",
  "BASH_ENV",
  "ENV",
  "PS4",
  "PROMPT_COMMAND",
  "SHELLOPTS",
  "BASHOPTS",
  "CDPATH",
  "LD_PRELOAD",
  "LD_LIBRARY_PATH",
  "LD_AUDIT",
]);
const isSteering = (name: string): boolean =>
  STEERING_VARIABLES.has(name) || name.startsWith("BASH_FUNC_");

/** Where programs live: a volume mounted here can replace /bin/sh or br-ent itself. */
const PROGRAM_DIRS = [
  "/bin",
  "/sbin",
  "/usr",
  "/lib",
  "/lib64",
  "/usr/bin",
  "/usr/sbin",
  "/usr/lib",
  "/usr/lib64",
  "/usr/local",
  "/usr/local/bin",
  "/usr/local/sbin",
  "/etc/ld.so.preload",
];

/** Flags of br-ent that take no value: every other flag takes the next word, as pflag does. */
const BOOLEAN_FLAGS = new Set(["enable-ssl", "insecure-skip-verify", "debug"]);

/** Dashes that look like "-" in a document but are other characters to br-ent. */
const TYPOGRAPHIC_DASH = /^[\u2010-\u2015\u2212\ufe58\ufe63\uff0d]/;

/** One word of a command, with where it came from. */
interface Word {
  /** Text with unknown variables marked (see shell-script.ts). */
  readonly text: string;
  readonly glob: boolean;
  /** A redirection target: a file the command touches, not an argument. */
  readonly redirect?: boolean;
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
  pod: PodContext = { brVolume: false },
): ContainerReading {
  const image = isObject(container) ? container.image : undefined;
  const brImage = imageRunsBrEnt(image) || pod.brVolume;
  const hasEnvFrom = Array.isArray(field(container, "envFrom"));
  const env = literalEnv(container, hasEnvFrom);
  const command = stringList(field(container, "command"));
  const args = stringList(field(container, "args"));
  const handlers = handlerCommands(container);
  const raw = [...command, ...args, ...handlers.flat()];
  // No command and args that start like br-ent's: the entrypoint may well be br-ent.
  const brArgs = command.length === 0 && ["backup", "restore"].includes(args[0] ?? "");
  const mentionsBr =
    brImage ||
    brArgs ||
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
  if (raw.some((item) => /[\uE000-\uE003]/.test(item))) {
    reader.unreadable.push("its command holds characters from Unicode's private use area");
    return reading();
  }
  readEnvironment(container, env, hasEnvFrom, reader);
  const location = (i: number): ArgvLocation =>
    i < command.length
      ? { list: "command", index: i }
      : { list: "args", index: i - command.length };
  const words: Word[] = [...command, ...args].map((item, i) => {
    const text = kubernetesExpand(item, env, hasEnvFrom);
    return { text, glob: false, item: location(i), exact: text === item };
  });
  if (command.length === 0 && (brImage || brArgs)) {
    // No command: the image's entrypoint, br-ent, gets the args (unless they start a shell).
    const first = words[0]?.text ?? "";
    if (!SHELLS.has(basename(first)) && !first.startsWith("/"))
      words.unshift({ text: "br-ent", glob: false });
  }
  if (words.length > 0) readCommand(words, new Map(env), reader, "exec", true, false);
  // Lifecycle hooks and exec probes run commands in the container too (no entrypoint there).
  for (const [i, handler] of handlers.entries()) {
    const handlerWords = handler.map((item) => ({
      text: kubernetesExpand(item, env, hasEnvFrom),
      glob: false,
      item: { list: "handler" as const, index: i },
    }));
    if (handlerWords.length > 0)
      readCommand(handlerWords, new Map(env), reader, "exec", false, false);
  }
  return reading();
}

/** What in the container's environment could change what runs. */
function readEnvironment(
  container: unknown,
  env: ReadonlyMap<string, string | undefined>,
  hasEnvFrom: boolean,
  reader: Reader,
): void {
  if (hasEnvFrom)
    reader.unreadable.push(
      "envFrom can set variables that change what runs (PATH, LD_PRELOAD, BASH_ENV); list its env one by one",
    );
  if ([...env.keys()].some(isSteering))
    reader.unreadable.push(
      "its env sets a variable that changes which program runs or what a shell does first (PATH, IFS, BASH_ENV, LD_PRELOAD …)",
    );
  const mounts = field(container, "volumeMounts");
  if (
    Array.isArray(mounts) &&
    mounts.some((mount) => {
      const path = String(field(mount, "mountPath") ?? "").replace(/\/+$/, "") || "/";
      return path === "/" || PROGRAM_DIRS.some((dir) => path === dir || path.startsWith(`${dir}/`));
    })
  )
    reader.unreadable.push(
      "a volume is mounted over the directories programs run from, so it could replace /bin/sh or br-ent",
    );
}

/** Commands of lifecycle hooks and exec probes. */
function handlerCommands(container: unknown): string[][] {
  const handlers = [
    field(container, "lifecycle", "postStart", "exec", "command"),
    field(container, "lifecycle", "preStop", "exec", "command"),
    field(container, "livenessProbe", "exec", "command"),
    field(container, "readinessProbe", "exec", "command"),
    field(container, "startupProbe", "exec", "command"),
  ];
  return handlers.map(stringList).filter((command) => command.length > 0);
}

/**
 * Follows one simple command through wrappers and shells to the program it runs.
 * `topLevel` is true for the container's argv and the words of its own `sh -c` script, whose
 * positions in the object are known (for the --meta mutation). `conditional`: the command may
 * not run, or runs in a subshell, so its assignments are unknown afterwards.
 */
function readCommand(
  words: readonly Word[],
  variables: Map<string, string | undefined>,
  reader: Reader,
  form: "exec" | "shell",
  topLevel: boolean,
  conditional: boolean,
): void {
  let rest = words.filter((w) => !w.redirect);
  const env = new Map(variables);
  const unreadable = (reason: string) => {
    if (reader.relevant) reader.unreadable.push(reason);
  };
  const redirects = words.filter((w) => w.redirect);
  if (redirects.some((w) => mentionsBrBinary(expandedOrRaw(w, env)))) {
    unreadable("it writes to or reads from the br-ent binary with a redirection");
    return;
  }
  let inCompound = conditional;
  if (form === "shell") {
    while (rest[0] && !rest[0].glob && PREFIX_KEYWORDS.has(rest[0].text)) {
      inCompound = true;
      rest = rest.slice(1);
    }
    // Assignments before a command set its environment; alone they set shell variables.
    while (rest[0] && isAssignment(rest[0].text)) {
      const [name, value] = splitAssignment(rest[0].text);
      if (isSteering(name)) {
        unreadable(`its script sets ${name}, which changes what runs`);
        return;
      }
      env.set(name, expandAssigned(value, env));
      rest = rest.slice(1);
    }
    if (rest.length === 0) {
      for (const [name, value] of env)
        if (variables.get(name) !== value) variables.set(name, inCompound ? undefined : value);
      return;
    }
  }
  for (let guard = 0; rest.length > 0 && guard < 64; guard++) {
    const first = rest[0] as Word;
    const program = expand(first.text, env);
    if (program === undefined || first.glob || /\s/.test(program) || program.includes("$")) {
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
        if (!isAssignment(word.text)) continue;
        const [variable, value] = splitAssignment(word.text);
        if (isSteering(variable)) {
          unreadable(`its script sets ${variable}, which changes what runs`);
          return;
        }
        variables.set(variable, inCompound ? undefined : expandAssigned(value, env));
      }
      return;
    }
    if (READERS.has(name) || (name === "printf" && rest.some((w) => w.text === "-v"))) {
      // read VAR, printf -v VAR: values the webhook cannot see.
      for (const word of rest.slice(1))
        if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(word.text)) variables.set(word.text, undefined);
      return;
    }
    if (HARMLESS.has(name)) {
      const args = rest.slice(1);
      if (!PRINTERS.has(name) && args.some((w) => mentionsBrBinary(expandedOrRaw(w, env))))
        unreadable("it passes br-ent to another program (a copy of it cannot be read)");
      else if (
        reader.brImage &&
        !PRINTERS.has(name) &&
        args.some((w) => w.glob || expand(w.text, env) === undefined)
      )
        unreadable(
          "in the br-ent image it passes a file pattern or an unknown variable to a program, which could copy br-ent",
        );
      return;
    }
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
    if (rest.some((w) => mentionsBrBinary(expandedOrRaw(w, env))))
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
      dropOptions(new Set(["-n", "-c", "-p", "-i", "-o", "-e"]));
      return rest;
    case "chrt":
      dropOptions(new Set());
      return rest.slice(1); // the priority
    case "taskset": {
      // taskset MASK cmd, or taskset -c LIST cmd: the list is the -c option's value.
      const listed = rest[0]?.text === "-c" || rest[0]?.text === "--cpu-list";
      dropOptions(new Set(["-c", "--cpu-list"]));
      return listed ? rest : rest.slice(1);
    }
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
        if (word === "-S" || word.startsWith("--split-string") || /^-[^-]*S/.test(word))
          return "opaque";
        if (word === "-u" || word === "-C" || word === "--unset" || word === "--chdir") {
          rest = rest.slice(2);
        } else if (word === "--") {
          rest = rest.slice(1);
          break;
        } else if (word.startsWith("-")) {
          rest = rest.slice(1);
        } else if (isAssignment(word)) {
          const [variable, value] = splitAssignment(word);
          if (isSteering(variable)) return "opaque";
          env.set(variable, expandAssigned(value, env));
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
  let interactive = false;
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
    if (!option.startsWith("--") && option.slice(1).includes("i")) interactive = true;
  }
  const script = words[i];
  if (!command || !script) {
    if (reader.relevant)
      reader.unreadable.push(
        "it runs a shell on a script file or standard input, which the webhook cannot read; put the script in the command with sh -c",
      );
    return;
  }
  if (interactive && reader.relevant) {
    reader.unreadable.push("an interactive shell (-i) runs start-up files first");
    return;
  }
  if (script.text.includes(VAR_KUBELET)) {
    if (reader.relevant)
      reader.unreadable.push(
        "the kubelet writes a $(VAR) value the webhook cannot see into the script itself; use $VAR inside the script instead",
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
  for (const shellCommand of parsed.commands) {
    const commandWords = shellCommand.words.map((w) =>
      scriptWord(w, itemsKnown && script.exact ? script.item : undefined),
    );
    readCommand(commandWords, variables, reader, "shell", itemsKnown, shellCommand.conditional);
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
    redirect: word.redirect,
    scriptEnd: item ? { at: item, offset: word.end } : undefined,
  };
}

/** Reads `br-ent <verb> <mode> --flag value …` as pflag does. */
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
  const splitVariables = new Set<string>();
  const value = (word: Word, text = word.text): FlagValue => {
    const expanded = expand(text, env);
    return expanded === undefined
      ? {
          text: showVariables(text),
          resolved: false,
          unknownVariables: variablesIn(text).filter((name) => env.get(name) === undefined),
        }
      : { text: expanded, resolved: !word.glob, unknownVariables: [] };
  };
  for (const word of words) {
    for (const name of splitReferences(word.text, env)) splitVariables.add(name);
    if (word.glob) strayWords.push("a file pattern or brace expansion");
  }
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as Word;
    // Known variables are part of the word as br-ent gets it ($F with F="--meta=x" is a flag).
    const text = expand(word.text, env) ?? word.text;
    if (text === "-" || text === "--") {
      strayWords.push(`a lone "${text}"`);
      continue;
    }
    if (TYPOGRAPHIC_DASH.test(text)) {
      strayWords.push("a word that starts with a typographic dash instead of -");
      continue;
    }
    if (!/^--?[A-Za-z\uE000\uE002\uE003]/.test(text)) {
      positional.push(word);
      continue;
    }
    const body = text.replace(/^-+/, "");
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (/[\uE000-\uE003]/.test(name)) {
      strayWords.push("a flag whose name comes from a variable");
      continue;
    }
    if (eq >= 0) {
      flags.set(name, value(word, body.slice(eq + 1)));
      continue;
    }
    const next = words[i + 1];
    if (next !== undefined && !BOOLEAN_FLAGS.has(name)) {
      // pflag gives a flag the next word as its value, whatever it starts with.
      flags.set(name, value(next));
      i++;
    } else {
      flags.set(name, true);
    }
  }
  for (const _extra of positional.slice(2))
    strayWords.push("a word that is neither a flag nor its value");
  const verbWord = positional[0];
  const modeWord = positional[1];
  const verb = verbWord ? expand(verbWord.text, env) : undefined;
  const mode = modeWord ? expand(modeWord.text, env) : undefined;
  const verbUnknown =
    (verbWord !== undefined && (verb === undefined || verbWord.glob)) ||
    (modeWord !== undefined && (mode === undefined || modeWord.glob));
  return {
    form,
    at:
      form === "exec"
        ? (binary.item ?? { list: "args", index: 0 })
        : (binary.scriptEnd?.at ?? { list: "command", index: 0 }),
    verb,
    verbUnknown,
    mode,
    flags,
    strayWords,
    strayItems: [],
    splitVariables: [...splitVariables],
    metaInsertion: topLevel ? insertionAfter(modeWord ?? verbWord) : undefined,
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
  return text.replace(/[\uE000\uE002\uE003]([^\uE001]*)\uE001/g, (_w, name: string) => `$${name}`);
}

function expand(text: string, env: ReadonlyMap<string, string | undefined>): string | undefined {
  return expandVariables(text, env);
}

/** A word as it would run, or as written when it depends on something unknown. */
function expandedOrRaw(word: Word, env: ReadonlyMap<string, string | undefined>): string {
  return expand(word.text, env) ?? showVariables(word.text);
}

/** An assignment's value: no word splitting happens there, so references are plain values. */
function expandAssigned(
  value: string,
  env: ReadonlyMap<string, string | undefined>,
): string | undefined {
  return expandVariables(value, env);
}

const isAssignment = (text: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*=/.test(text);

function splitAssignment(text: string): [string, string] {
  const eq = text.indexOf("=");
  return [text.slice(0, eq), text.slice(eq + 1)];
}

/** A command or args list; one with a non-string item is not one the API server would store. */
function stringList(value: unknown): string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string") ? value : [];
}

/**
 * The container's env as the kubelet sets it: literal values (with `$(VAR)` references to
 * earlier entries expanded), and valueFrom entries as unknown.
 */
function literalEnv(container: unknown, hasEnvFrom: boolean): Map<string, string | undefined> {
  const env = new Map<string, string | undefined>();
  const list = field(container, "env");
  if (!Array.isArray(list)) return env;
  for (const item of list) {
    const name = field(item, "name");
    if (typeof name !== "string") continue;
    const value = field(item, "value");
    if (typeof value === "string") {
      const expanded = kubernetesExpand(value, env, hasEnvFrom);
      env.set(name, /[\uE000-\uE003]/.test(expanded) ? undefined : expanded);
    } else env.set(name, undefined);
  }
  return env;
}

/**
 * The kubelet's own expansion of `$(VAR)` in command, args and env values, before any shell:
 * a known literal is substituted, an unknown one (valueFrom, or anything envFrom may define)
 * is marked, an undefined one stays as written, and `$$` is a literal `$`.
 */
export function kubernetesExpand(
  text: string,
  env: ReadonlyMap<string, string | undefined>,
  hasEnvFrom = false,
): string {
  return text.replace(
    /\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g,
    (whole, name: string | undefined) => {
      if (whole === "$$") return "$";
      if (name === undefined) return whole;
      if (!env.has(name)) return hasEnvFrom ? `${VAR_KUBELET}${name}${VAR_END}` : whole;
      const value = env.get(name);
      return value ?? `${VAR_KUBELET}${name}${VAR_END}`;
    },
  );
}
