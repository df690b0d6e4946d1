/**
 * A memory cgroup for one process, limited as a pod's container is by `resources.limits.memory`,
 * so that the bench and the tests see what the kernel and V8 do under the chart's limit
 * instead of guessing:
 * Node.js sizes V8's heap from the cgroup's limit (Node.js 24 under 256 MiB: a 259 MiB heap
 * limit, measured), and V8 collects harder when it believes memory is that small. Needs root
 * and a writable cgroup file system (v1's memory controller or v2 with memory enabled). The
 * group is made inside the caller's own, so what its process uses still counts where the caller runs.
 */
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmdirSync,
  statfsSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

export interface MemoryCgroup {
  readonly version: 1 | 2;
  readonly limitBytes: number;
  /** `[command, args]` that start `command args` inside the group (exit JOIN_FAILED if it cannot). */
  wrap(command: string, args: readonly string[]): [string, string[]];
  /** The most the group was charged (its processes' memory and the page cache they read). */
  peakBytes(): number | undefined;
  /** Charges refused at the limit (memory.failcnt; v2's `max` event): the kernel then takes memory back. */
  limitHits(): number;
  /** Processes the kernel killed for the group's limit. */
  oomKills(): number;
  /** Removes the group; says why when it cannot (a process still in it). */
  remove(): string | undefined;
}

export type CgroupResult = { ok: true; group: MemoryCgroup } | { ok: false; why: string };

/** The wrapper's exit status when it could not put itself into the group. */
export const JOIN_FAILED = 97;

const V1_MEMORY = "/sys/fs/cgroup/memory";
const V2_ROOT = "/sys/fs/cgroup";

export function memoryCgroup(name: string, limitBytes: number): CgroupResult {
  if (process.getuid?.() !== 0) return { ok: false, why: "making a cgroup needs root" };
  const v1Parent = ownGroup("memory");
  if (v1Parent !== undefined && existsSync(join(V1_MEMORY, "memory.limit_in_bytes")))
    return made(join(V1_MEMORY, v1Parent, name), (dir) => v1(dir, limitBytes));
  const v2Parent = ownGroup("");
  const controllers = join(V2_ROOT, "cgroup.controllers");
  if (
    v2Parent !== undefined &&
    existsSync(controllers) &&
    readFileSync(controllers, "utf8").split(/\s+/).includes("memory")
  )
    return made(join(V2_ROOT, v2Parent, name), (dir) => v2(dir, limitBytes));
  return { ok: false, why: "no cgroup memory controller is mounted here" };
}

/** This process's group in the hierarchy of `controller` ("" for cgroup v2), from /proc. */
function ownGroup(controller: string): string | undefined {
  for (const line of readFileSync("/proc/self/cgroup", "utf8").split("\n")) {
    const [, controllers, path] = line.split(":");
    // v2's line is `0::/path`: its empty controller list matches "".
    if (controllers?.split(",").includes(controller)) return path;
  }
  return undefined;
}

/** Makes the group's directory and sets it up; on any failure nothing is left behind. */
function made(dir: string, setUp: (dir: string) => MemoryCgroup): CgroupResult {
  try {
    if (existsSync(dir)) rmdirSync(dir); // left by a run that was killed
    mkdirSync(dir);
  } catch (error) {
    return { ok: false, why: `the cgroup ${dir} could not be made: ${(error as Error).message}` };
  }
  try {
    return { ok: true, group: setUp(dir) };
  } catch (error) {
    try {
      rmdirSync(dir);
    } catch {
      // nothing ran in it: an empty group goes with the machine
    }
    return { ok: false, why: `the cgroup ${dir} could not be set up: ${(error as Error).message}` };
  }
}

/**
 * `sh -c` writes its own pid into the group, then execs: nothing runs outside it. By its path:
 * the environment given to the command (an image's) may have a PATH without it.
 */
function wrapper(procs: string) {
  return (command: string, args: readonly string[]): [string, string[]] => [
    "/bin/sh",
    ["-c", `echo $$ > "$0" || exit ${JOIN_FAILED}; exec "$@"`, procs, command, ...args],
  ];
}

function removal(dir: string): () => string | undefined {
  return () => {
    try {
      rmdirSync(dir);
      return undefined;
    } catch (error) {
      return `the cgroup ${dir} was left: ${(error as Error).message}`;
    }
  };
}

function v1(dir: string, limitBytes: number): MemoryCgroup {
  writeFileSync(join(dir, "memory.limit_in_bytes"), String(limitBytes));
  // With swap accounting, memory and swap together: a pod gets no swap.
  const memsw = join(dir, "memory.memsw.limit_in_bytes");
  if (existsSync(memsw)) writeFileSync(memsw, String(limitBytes));
  return {
    version: 1,
    limitBytes,
    wrap: wrapper(join(dir, "cgroup.procs")),
    peakBytes: () => Number(readFileSync(join(dir, "memory.max_usage_in_bytes"), "utf8")),
    limitHits: () => Number(readFileSync(join(dir, "memory.failcnt"), "utf8")),
    oomKills: () => counter(join(dir, "memory.oom_control"), "oom_kill"),
    remove: removal(dir),
  };
}

function v2(dir: string, limitBytes: number): MemoryCgroup {
  // The parent must hand the memory controller down (it fails while the parent holds
  // processes itself: then there is no cgroup here, and the result says so).
  const subtree = join(dir, "..", "cgroup.subtree_control");
  if (!readFileSync(subtree, "utf8").split(/\s+/).includes("memory"))
    writeFileSync(subtree, "+memory");
  writeFileSync(join(dir, "memory.max"), String(limitBytes));
  const swap = join(dir, "memory.swap.max");
  if (existsSync(swap)) writeFileSync(swap, "0");
  return {
    version: 2,
    limitBytes,
    wrap: wrapper(join(dir, "cgroup.procs")),
    // memory.peak came with Linux 5.19.
    peakBytes: () =>
      existsSync(join(dir, "memory.peak"))
        ? Number(readFileSync(join(dir, "memory.peak"), "utf8"))
        : undefined,
    limitHits: () => counter(join(dir, "memory.events"), "max"),
    oomKills: () => counter(join(dir, "memory.events"), "oom_kill"),
    remove: removal(dir),
  };
}

/** `name N` from a flat-keyed cgroup file. */
function counter(file: string, name: string): number {
  const line = readFileSync(file, "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name} `));
  return Number(line?.split(" ")[1] ?? 0);
}

const TMPFS_MAGIC = 0x01021994;

/**
 * A copy of `file` in `dir` with none of it in the page cache, or why there cannot be one. A
 * cgroup is charged for the file pages its processes read first; in a pod that includes the
 * node binary's code (about 50 MiB of it is resident). Here the caller's own node has those
 * pages in memory already, so without a fresh, uncached copy the group would never be charged
 * for them.
 */
export function uncachedCopy(
  file: string,
  dir: string,
  name: string,
): { ok: true; path: string } | { ok: false; why: string } {
  const copy = join(dir, name);
  copyFileSync(file, copy);
  const dropped = dropFromPageCache(copy);
  return dropped ? { ok: false, why: dropped } : { ok: true, path: copy };
}

/**
 * Writes `file` out and drops its pages from the page cache (coreutils dd's documented way);
 * says why when it cannot. On tmpfs the pages are the file itself: nothing can be dropped.
 */
export function dropFromPageCache(file: string): string | undefined {
  if (statfsSync(file).type === TMPFS_MAGIC)
    return `${file} is on tmpfs, whose pages cannot be dropped`;
  const run = spawnSync(
    "dd",
    [`of=${file}`, "oflag=nocache", "conv=notrunc,fdatasync", "count=0", "status=none"],
    { encoding: "utf8" },
  );
  return run.status === 0 ? undefined : `dd could not drop ${file}: ${run.stderr.trim()}`;
}
