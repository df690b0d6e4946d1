import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { stdTimeFunctions } from "pino";
import { isoTimeOncePerMs } from "./log.js";

/** Runs `body` in a fresh Node process with the log module's exports in scope; its stdout. */
function run(body: string): { stdout: string; status: number | null } {
  const module = JSON.stringify(new URL("./log.js", import.meta.url).href);
  const script = `import(${module}).then(({ createLogger, unredacted }) => { ${body} });`;
  const child = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 10_000 });
  return { stdout: child.stdout, status: child.status };
}

const messages = (stdout: string) =>
  stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => (JSON.parse(line) as { msg: string }).msg);

describe("logs on stdout", () => {
  it("say what the webhook does as it happens; per-admission lines follow within the flush interval", () => {
    const { stdout } = run(`
      const log = createLogger("info");
      unredacted(log).info("admission");
      log.info("synced");
      setTimeout(() => process.stdout.write("-- 100 ms\\n"), 100);
      setTimeout(() => process.kill(process.pid, "SIGKILL"), 1500);`);
    const [early, late] = stdout.split("-- 100 ms\n");
    assert.deepEqual(messages(early ?? ""), ["synced"], "written at once");
    assert.deepEqual(
      messages(late ?? ""),
      ["admission"],
      "written with no more logging to push it",
    );
  });

  it("lose nothing when the process exits or crashes", () => {
    const exited = run(`
      const log = createLogger("info");
      log.info("a");
      unredacted(log).info("b");
      process.exit(3);`);
    assert.equal(exited.status, 3);
    assert.deepEqual(messages(exited.stdout).sort(), ["a", "b"]);
    const crashed = run(`
      const log = createLogger("info");
      unredacted(log).info("before");
      setTimeout(() => { unredacted(log).info("last"); throw new Error("crash"); }, 50);`);
    assert.equal(crashed.status, 1);
    assert.deepEqual(messages(crashed.stdout), ["before", "last"]);
  });

  it("redact credential fields in the webhook's own lines", () => {
    const { stdout } = run(`
      createLogger("info").info({ secret: { token: "t0k3n" } }, "x");
      setTimeout(() => process.exit(0), 50);`);
    assert.ok(!stdout.includes("t0k3n"));
    assert.match(stdout, /\[redacted\]/);
  });
});

describe("the timestamp of a log line", () => {
  it("is pino's isoTime, to the millisecond, and changes when the millisecond does", () => {
    let clock = Date.UTC(2026, 10, 27, 21, 15, 0, 123);
    const stamp = isoTimeOncePerMs(() => clock);
    const realNow = Date.now;
    Date.now = () => clock; // pino's isoTime reads Date.now
    try {
      assert.equal(stamp(), stdTimeFunctions.isoTime());
      assert.equal(stamp(), ',"time":"2026-11-27T21:15:00.123Z"');
      clock += 1;
      assert.equal(stamp(), ',"time":"2026-11-27T21:15:00.124Z"', "not the last millisecond's");
      assert.equal(stamp(), stdTimeFunctions.isoTime());
      clock -= 5_000; // a clock stepped back is followed, not ignored
      assert.equal(stamp(), ',"time":"2026-11-27T21:14:55.124Z"');
    } finally {
      Date.now = realNow;
    }
  });
});
