/**
 * A memory cgroup for one process, limited as a pod's container is by `resources.limits.memory`,
 * so that the bench sees what the kernel and V8 do under the chart's limit instead of guessing:
 * Node.js sizes V8's heap from the cgroup's limit (Node.js 24 under 256 MiB: a 259 MiB heap
 * limit, measured), and V8 collects harder when it believes memory is that small. Needs root
 * and a writable cgroup file system (v1's memory controller or v2 with memory enabled).
 */
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

export interface MemoryCgroup {
  readonly version: 1 | 2;
  readonly limitBytes: number;
  /** `[command, args]` that start `command args` inside the group. */
  wrap(command: string, args: readonly string[]): [string, string[]];
  /** The most the group was charged (its processes' memory and the page cache they read). */
  peakBytes(): number | undefined;
  /** Processes the kernel killed for the group's limit. */
  oomKills(): number;
  remove(): void;
}

export type CgroupResult = { ok: true; group: MemoryCgroup } | { ok: false; why: string };

const V1_ROOT = "/sys/fs/cgroup/memory";
const V2_ROOT = "/sys/fs/cgroup";

export function memoryCgroup(name: string, limitBytes: number): CgroupResult {
  if (process.getuid?.() !== 0) return { ok: false, why: "making a cgroup needs root" };
  try {
    if (existsSync(join(V1_ROOT, "memory.limit_in_bytes"))) return v1(name, limitBytes);
    const controllers = join(V2_ROOT, "cgroup.controllers");
    if (
      existsSync(controllers) &&
      readFileSync(controllers, "utf8").split(/\s+/).includes("memory")
    )
      return v2(name, limitBytes);
    return { ok: false, why: "no cgroup memory controller is mounted here" };
  } catch (error) {
    return { ok: false, why: `the cgroup could not be made: ${(error as Error).message}` };
  }
}

/** `sh -c` writes its own pid into the group, then execs: nothing runs outside it. */
function wrapper(procs: string) {
  return (command: string, args: readonly string[]): [string, string[]] => [
    "sh",
    ["-c", 'echo $$ > "$0" && exec "$@"', procs, command, ...args],
  ];
}

function fresh(dir: string): void {
  if (existsSync(dir)) rmdirSync(dir);
  mkdirSync(dir);
}

function v1(name: string, limitBytes: number): CgroupResult {
  const dir = join(V1_ROOT, name);
  fresh(dir);
  writeFileSync(join(dir, "memory.limit_in_bytes"), String(limitBytes));
  // With swap accounting, memory and swap together: a pod gets no swap.
  const memsw = join(dir, "memory.memsw.limit_in_bytes");
  if (existsSync(memsw)) writeFileSync(memsw, String(limitBytes));
  return {
    ok: true,
    group: {
      version: 1,
      limitBytes,
      wrap: wrapper(join(dir, "cgroup.procs")),
      peakBytes: () => Number(readFileSync(join(dir, "memory.max_usage_in_bytes"), "utf8")),
      oomKills: () => counter(join(dir, "memory.oom_control"), "oom_kill"),
      remove: () => rmdirSync(dir),
    },
  };
}

function v2(name: string, limitBytes: number): CgroupResult {
  const subtree = join(V2_ROOT, "cgroup.subtree_control");
  if (!readFileSync(subtree, "utf8").split(/\s+/).includes("memory"))
    writeFileSync(subtree, "+memory");
  const dir = join(V2_ROOT, name);
  fresh(dir);
  writeFileSync(join(dir, "memory.max"), String(limitBytes));
  const swap = join(dir, "memory.swap.max");
  if (existsSync(swap)) writeFileSync(swap, "0");
  return {
    ok: true,
    group: {
      version: 2,
      limitBytes,
      wrap: wrapper(join(dir, "cgroup.procs")),
      // memory.peak came with Linux 5.19.
      peakBytes: () =>
        existsSync(join(dir, "memory.peak"))
          ? Number(readFileSync(join(dir, "memory.peak"), "utf8"))
          : undefined,
      oomKills: () => counter(join(dir, "memory.events"), "oom_kill"),
      remove: () => rmdirSync(dir),
    },
  };
}

/** `name N` from a flat-keyed cgroup file. */
function counter(file: string, name: string): number {
  const line = readFileSync(file, "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name} `));
  return Number(line?.split(" ")[1] ?? 0);
}

/**
 * A copy of `file` in `dir` with none of it in the page cache. A cgroup is charged for the
 * file pages its processes read first; in a pod that includes the node binary's code (about
 * 50 MiB of it is resident). Here this bench's own node has those pages in memory already, so
 * without a fresh, uncached copy the group would never be charged for them.
 */
export function uncachedCopy(file: string, dir: string, name: string): string {
  const copy = join(dir, name);
  copyFileSync(file, copy);
  dropFromPageCache(copy);
  return copy;
}

/** Writes `file` out and drops its pages from the page cache (coreutils dd's documented way). */
export function dropFromPageCache(file: string): void {
  const run = spawnSync(
    "dd",
    [`of=${file}`, "oflag=nocache", "conv=notrunc,fdatasync", "count=0", "status=none"],
    { encoding: "utf8" },
  );
  if (run.status !== 0)
    throw new Error(`dd could not drop ${file} from the page cache: ${run.stderr}`);
}
