import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { scheduleProblem } from "./cron-schedule.js";

/** What robfig/cron v3 ParseStandard, the operator's parser, accepts and refuses. */
const accepted = [
  "0 3 * * *",
  "*/15 1-5 * * MON-FRI",
  "0 0 1 jan,jul *",
  "0 3 ? * *",
  "5/10 * * * *",
  "0 0 * * 0-6",
  "  0   3 * * *  ",
  "@daily",
  "@midnight",
  "@annually",
  "@every 6h",
  "@every 1h30m",
  "@every 90s",
  "TZ=Asia/Shanghai 0 2 * * *",
  "CRON_TZ=UTC 0 3 * * *",
  "TZ=Europe/Berlin @weekly",
];

const refused: [string, RegExp][] = [
  ["", /is required/],
  ["0 3 L * *", /day of month field: .*no L, W, # or H/],
  ["0 3 * * 5#3", /day of week field/],
  ["0 3 15W * *", /day of month field/],
  ["H 3 * * *", /minute field/],
  ["0 3 * * 7", /day of week field: is outside 0-6/],
  ["61 * * * *", /minute field: is outside 0-59/],
  ["*/0 * * * *", /minute field: has a step of 0/],
  ["5-2 * * * *", /start is after its end/],
  ["1-2-3 * * * *", /more than one -/],
  ["0 0 3 * * *", /has 6 fields/],
  ["0 3 * *", /has 4 fields/],
  ["@every 7d", /not a Go duration/],
  ["@every", /not a known descriptor/],
  ["@reboot", /not a known descriptor/],
  [" @daily", /has 1 field/],
  ["TZ=Mars/Olympus 0 3 * * *", /time zone that does not exist/],
  ["TZ=UTC", /no schedule after it/],
];

describe("cron schedules as the operator parses them (robfig/cron ParseStandard)", () => {
  for (const schedule of accepted) {
    it(`accepts ${JSON.stringify(schedule)}`, () => {
      assert.equal(scheduleProblem(schedule), undefined);
    });
  }
  for (const [schedule, problem] of refused) {
    it(`refuses ${JSON.stringify(schedule)}`, () => {
      assert.match(scheduleProblem(schedule) ?? "(accepted)", problem);
    });
  }
  it("never repeats the schedule in its answer", () => {
    const hostile = "0 3 * * * SECRET-TOKEN";
    assert.doesNotMatch(scheduleProblem(hostile) ?? "", /SECRET-TOKEN/);
  });
});
