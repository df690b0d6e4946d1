import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";

/** How long to keep asking, and how often. */
export interface Polling {
  readonly timeoutMs?: number;
  readonly everyMs?: number;
}

/**
 * The first value `probe` gives (anything but undefined), asking every `everyMs` until
 * `timeoutMs` has passed, and once more then; undefined if it never gave one. The one loop
 * every "wait until" of the tests goes through: what changes asynchronously (informers,
 * leases, sockets, another process) is asked after, never slept on for a guessed time.
 */
export async function poll<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  { timeoutMs = 5000, everyMs = 50 }: Polling = {},
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await sleep(everyMs);
  }
}

/** Whether `check` came true in time (for a test that asserts on it with its own message). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  polling?: Polling,
): Promise<boolean> {
  return (await poll(async () => ((await check()) ? true : undefined), polling)) === true;
}

/** Waits until `check` holds, by default asking every 50 ms for 5 s; then fails, naming `what`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  polling?: Polling,
): Promise<void> {
  if (!(await eventually(check, polling))) assert.fail(`timed out waiting until ${what}`);
}

/** The value `probe` gives in time; else fails, naming `what`. */
export async function firstValue<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  what: string,
  polling?: Polling,
): Promise<T> {
  const value = await poll(probe, polling);
  if (value === undefined) assert.fail(`timed out waiting for ${what}`);
  return value;
}
