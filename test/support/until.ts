import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";

/** Waits until `check` holds, asking every 50 ms for 5 s; then fails, naming `what`. */
export async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await sleep(50);
  }
  assert.fail(`timed out waiting until ${what}`);
}
