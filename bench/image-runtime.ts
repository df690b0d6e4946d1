/**
 * How the image runs node and the memory the chart gives it (test/support/image-runtime.ts),
 * so that the bench measures the webhook as it ships.
 */
import { IMAGE_NODE_FLAGS as SHIPPED_FLAGS } from "../test/support/image-runtime.js";

export { chartMemoryLimitBytes, IMAGE_ENV } from "../test/support/image-runtime.js";

/** The image's entrypoint flags, then BENCH_WEBHOOK_NODE_FLAGS (to look into a change). */
export const IMAGE_NODE_FLAGS = [
  ...SHIPPED_FLAGS,
  ...(process.env.BENCH_WEBHOOK_NODE_FLAGS?.split(" ").filter(Boolean) ?? []),
];
