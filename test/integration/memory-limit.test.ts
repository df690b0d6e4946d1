/**
 * The image's node flags against a pod's memory limit. In a container Node.js sizes V8's heap
 * from the cgroup's limit, and left alone it gives V8's old space about all of it: V8 would then
 * never collect for lack of room before the kernel kills the pod. The entrypoint's
 * --max-old-space-size-percentage=50 leaves half to the young generation, code and buffers.
 * Run under the Node.js the image ships (the Makefile's NODE_TEST), in a real memory cgroup.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { chartMemoryLimitBytes, IMAGE_NODE_FLAGS } from "../support/image-runtime.js";
import { memoryCgroup } from "../support/memory-cgroup.js";

/** The chart's limit (charts/nebula-br-webhook/values.yaml: 256Mi). */
const LIMIT_MIB = chartMemoryLimitBytes() / 2 ** 20;
/** The young generation of --max-semi-space-size=16: three semi-spaces. */
const YOUNG_MIB = 48;
const PERCENTAGE = "--max-old-space-size-percentage=50";

const flagUnknown = process.allowedNodeEnvironmentFlags.has("--max-old-space-size-percentage")
  ? undefined
  : `Node.js ${process.version} has no --max-old-space-size-percentage (the image's 24 has)`;

/** V8's heap limit, in MiB, of a node started with `flags` inside a cgroup of LIMIT_MIB. */
function heapLimitInPod(flags: readonly string[]): number | { skip: string } {
  const group = memoryCgroup(`nbw-heap-test-${process.pid}`, LIMIT_MIB * 2 ** 20);
  if (!group.ok) return { skip: group.why };
  try {
    const [command, args] = group.group.wrap(process.execPath, [
      ...flags,
      "-p",
      "require('v8').getHeapStatistics().heap_size_limit",
    ]);
    const run = spawnSync(command, args, { encoding: "utf8", timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    return Number(run.stdout) / 2 ** 20;
  } finally {
    group.group.remove();
  }
}

describe("V8's heap under the pod's memory limit, with the image's node flags", {
  skip: flagUnknown,
}, () => {
  it(`gives V8's old space at most half of a ${LIMIT_MIB} MiB limit, where Node.js alone would give it about all`, (t) => {
    assert.ok(IMAGE_NODE_FLAGS.includes(PERCENTAGE), "the image's flags hold the percentage");
    const shipped = heapLimitInPod(IMAGE_NODE_FLAGS);
    if (typeof shipped !== "number") {
      t.skip(shipped.skip);
      return;
    }
    const without = heapLimitInPod(IMAGE_NODE_FLAGS.filter((flag) => flag !== PERCENTAGE));
    t.diagnostic(
      `V8's heap limit in a ${LIMIT_MIB} MiB cgroup: ${Math.round(shipped)} MiB with the image's flags, ${
        typeof without === "number" ? Math.round(without) : "?"
      } MiB without the percentage`,
    );
    assert.ok(shipped <= LIMIT_MIB / 2 + YOUNG_MIB + 1, `heap limit ${shipped} MiB`);
    // Node.js saw the cgroup (not the machine's memory), and the flag is what halves it.
    assert.ok(typeof without === "number" && without > LIMIT_MIB, `without: ${without} MiB`);
    assert.ok(without < 2 * LIMIT_MIB, `without: ${without} MiB: the cgroup was not seen`);
  });
});
