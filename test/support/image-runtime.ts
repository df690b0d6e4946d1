/**
 * How the image runs node (image/build.sh, which says why): its entrypoint's flags and its
 * environment, and the memory limit the chart gives its pod. The image's tests check the built
 * image against these; tests that hold the webhook to the pod's memory limit run it with them,
 * as it ships.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { REPO_ROOT } from "./fixtures.js";

export const IMAGE_NODE_FLAGS: readonly string[] = [
  "--max-semi-space-size=16",
  "--expose-gc",
  "--max-old-space-size-percentage=50",
];

export const IMAGE_ENV: Readonly<Record<string, string>> = {
  GLIBC_TUNABLES: "glibc.malloc.mmap_threshold=32768",
};

/** `resources.limits.memory` of the chart's values, in bytes (`256Mi`, `1Gi`). */
export function chartMemoryLimitBytes(): number {
  const values = parse(
    readFileSync(join(REPO_ROOT, "charts/nebula-br-webhook/values.yaml"), "utf8"),
  ) as { resources?: { limits?: { memory?: string } } };
  const limit = values.resources?.limits?.memory ?? "";
  const match = /^(\d+)(Mi|Gi)$/.exec(limit);
  if (!match)
    throw new Error(`the chart's memory limit ${JSON.stringify(limit)} is not NMi or NGi`);
  return Number(match[1]) * 2 ** (match[2] === "Gi" ? 30 : 20);
}
