/**
 * How the image runs node (test/support/image-runtime.ts), so that the bench measures the
 * webhook as it ships; and the memory limit the chart gives it.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { REPO_ROOT } from "../test/support/fixtures.js";
import { IMAGE_NODE_FLAGS as SHIPPED_FLAGS } from "../test/support/image-runtime.js";

export { IMAGE_ENV } from "../test/support/image-runtime.js";

/** The image's entrypoint flags, then BENCH_WEBHOOK_NODE_FLAGS (to look into a change). */
export const IMAGE_NODE_FLAGS = [
  ...SHIPPED_FLAGS,
  ...(process.env.BENCH_WEBHOOK_NODE_FLAGS?.split(" ").filter(Boolean) ?? []),
];

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
