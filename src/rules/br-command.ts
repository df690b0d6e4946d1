import { parse as parseShell } from "shell-quote";
import { field, isObject } from "../kube/objects.js";

/** Where the br-ent script or argument list sits in a container, for messages and edits. */
export interface ArgvLocation {
  readonly list: "command" | "args";
  readonly index: number;
}

/** A container of a pod template that runs BR, read as the shell would run it. */
export interface BrInvocation {
  readonly containerIndex: number;
  readonly containerName: string;
  /** `shell`: `sh -c '<script>'`; `exec`: the argv itself runs br-ent. */
  readonly form: "shell" | "exec";
  /** For the shell form, where the script item is. */
  readonly script: ArgvLocation | undefined;
  /** Items after the script in the shell form: the shell hands them to it as $0 $1 …, BR never sees them. */
  readonly strayItems: readonly string[];
  /** `backup`, `restore`, … or undefined when the command does not run br-ent itself. */
  readonly verb: string | undefined;
  /** `full` or `incr` for backups. */
  readonly mode: string | undefined;
  readonly flags: ReadonlyMap<string, string | true>;
  /**
   * Words br-ent would choke on, described without their text (it may be a credential):
   * a lone "-" or "--", a flag written with a typographic dash, a word past verb and mode.
   */
  readonly strayWords: readonly string[];
  /** Literal env values of the container (valueFrom ones are absent), to resolve $VARS. */
  readonly env: ReadonlyMap<string, string>;
}

const SHELLS = new Set(["sh", "bash", "ash", "dash", "zsh", "ksh"]);
const BR_BINARIES = new Set(["br-ent", "nebula-br"]);

export function imageRunsBrEnt(image: unknown): boolean {
  if (typeof image !== "string") return false;
  const withoutDigest = image.split("@")[0] ?? "";
  const lastSegment = withoutDigest.split("/").pop() ?? "";
  return lastSegment.split(":")[0] === "br-ent";
}

const basename = (token: string): string => token.split("/").pop() ?? token;

/** A command or args list; one with a non-string item is not one the API server would store. */
function stringList(value: unknown): string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string") ? value : [];
}

/** Splits a shell script into words, keeping `$VAR` references as written. */
function shellWords(script: string): string[] {
  const words: string[] = [];
  for (const entry of parseShell(script, (name) => `$${name}`)) {
    if (typeof entry === "string") words.push(entry);
    else if ("op" in entry && entry.op !== "glob") words.push(`\u0000${entry.op}`);
    else if ("pattern" in entry) words.push(entry.pattern);
  }
  return words;
}

interface BrWords {
  verb: string | undefined;
  mode: string | undefined;
  flags: Map<string, string | true>;
  strayWords: string[];
}

/** Flags that take no value: the word after them is not theirs. */
const BOOLEAN_FLAGS = new Set(["enable-ssl", "insecure-skip-verify", "debug"]);

/** Dashes that look like "-" in a document but are other characters to br-ent. */
const TYPOGRAPHIC_DASH = /^[\u2010-\u2015\u2212\ufe58\ufe63\uff0d]/;

const isFlag = (word: string): boolean => /^--?[A-Za-z]/.test(word);

/** Finds the br-ent call among words and reads its verb, mode and flags. */
function readBrWords(words: readonly string[]): BrWords | undefined {
  const start = words.findIndex((w) => BR_BINARIES.has(basename(w)));
  if (start < 0) return undefined;
  const rest: string[] = [];
  for (const word of words.slice(start + 1)) {
    if (word.startsWith("\u0000")) break; // the next shell operator ends this command
    rest.push(word);
  }
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  const strayWords: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i] as string;
    if (word === "-" || word === "--") {
      strayWords.push(`a lone "${word}"`);
      continue;
    }
    if (TYPOGRAPHIC_DASH.test(word)) {
      strayWords.push("a word that starts with a typographic dash instead of -");
      continue;
    }
    if (!isFlag(word)) {
      positional.push(word);
      continue;
    }
    const name = word.replace(/^-+/, "");
    const eq = name.indexOf("=");
    if (eq >= 0) {
      flags.set(name.slice(0, eq), name.slice(eq + 1));
      continue;
    }
    const next = rest[i + 1];
    if (
      next !== undefined &&
      !BOOLEAN_FLAGS.has(name) &&
      !next.startsWith("-") &&
      !TYPOGRAPHIC_DASH.test(next)
    ) {
      flags.set(name, next);
      i++;
    } else {
      flags.set(name, true);
    }
  }
  // `backup full`, `restore full`, `cleanup`, `show`: anything past verb and mode is not read.
  for (const _extra of positional.slice(2))
    strayWords.push("a word that is neither a flag nor its value");
  return { verb: positional[0], mode: positional[1], flags, strayWords };
}

function shellScriptIndex(argv: readonly string[]): number | undefined {
  if (argv.length < 2 || !SHELLS.has(basename(argv[0] as string))) return undefined;
  for (let i = 1; i < argv.length; i++) {
    const word = argv[i] as string;
    if (!word.startsWith("-")) return undefined;
    if (!word.startsWith("--") && word.includes("c"))
      return i + 1 < argv.length ? i + 1 : undefined;
  }
  return undefined;
}

function containerEnv(container: unknown): Map<string, string> {
  const env = new Map<string, string>();
  const list = field(container, "env");
  if (!Array.isArray(list)) return env;
  for (const item of list) {
    const name = field(item, "name");
    const value = field(item, "value");
    if (typeof name === "string" && typeof value === "string") env.set(name, value);
  }
  return env;
}

/** Reads one container; undefined when it does not run BR. */
export function readBrInvocation(
  container: unknown,
  containerIndex: number,
): BrInvocation | undefined {
  if (!isObject(container)) return undefined;
  const command = stringList(container.command);
  const args = stringList(container.args);
  const argv = [...command, ...args];
  const scriptAt = shellScriptIndex(argv);
  const location = (index: number): ArgvLocation =>
    index < command.length
      ? { list: "command", index }
      : { list: "args", index: index - command.length };
  const brWords =
    scriptAt !== undefined ? readBrWords(shellWords(argv[scriptAt] as string)) : readBrWords(argv);
  if (!brWords && !imageRunsBrEnt(container.image)) return undefined;
  return {
    containerIndex,
    containerName: typeof container.name === "string" ? container.name : `#${containerIndex}`,
    form: scriptAt !== undefined ? "shell" : "exec",
    script: scriptAt !== undefined ? location(scriptAt) : undefined,
    strayItems: scriptAt !== undefined ? argv.slice(scriptAt + 1) : [],
    verb: brWords?.verb,
    mode: brWords?.mode,
    flags: brWords?.flags ?? new Map(),
    strayWords: brWords?.strayWords ?? [],
    env: containerEnv(container),
  };
}

/** All containers of a pod spec that run BR. */
export function brInvocations(podSpec: unknown): BrInvocation[] {
  const containers = field(podSpec, "containers");
  if (!Array.isArray(containers)) return [];
  return containers
    .map((container, index) => readBrInvocation(container, index))
    .filter((inv): inv is BrInvocation => inv !== undefined);
}

/** Expands `$VAR` / `${VAR}` from the container's literal env; leaves unknown ones as written. */
export function expandEnv(value: string, env: ReadonlyMap<string, string>): string {
  return value.replace(
    /\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g,
    (whole, name: string) => env.get(name) ?? whole,
  );
}

export function flagValue(invocation: BrInvocation, name: string): string | undefined {
  const value = invocation.flags.get(name);
  return typeof value === "string" ? value : undefined;
}

/** Inserts `--meta <address>` right after `br-ent backup <mode>` in a shell script. */
export function insertMetaFlag(script: string, address: string): string {
  return script.replace(
    /((?:^|[\s/])(?:br-ent|nebula-br)\s+backup\s+(?:full|incr))(?=\s|$)/,
    `$1 --meta ${address}`,
  );
}
