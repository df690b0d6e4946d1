import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseGoDuration } from "./go-duration.js";

describe("Go durations (time.ParseDuration)", () => {
  const valid: [string, number][] = [
    ["72h", 72 * 3_600_000],
    ["30m", 1_800_000],
    ["1h30m", 5_400_000],
    ["1.5h", 5_400_000],
    [".5s", 500],
    ["300ms", 300],
    ["2us", 0.002],
    ["0", 0],
    ["-1h", -3_600_000],
    ["+10s", 10_000],
  ];
  for (const [text, ms] of valid) {
    it(`reads ${text}`, () => assert.equal(parseGoDuration(text), ms));
  }
  for (const text of ["", "7d", "1w", "h", "1", "1h 30m", ".h", "1.2.3s", "-", "10 s"]) {
    it(`refuses ${JSON.stringify(text)}`, () => assert.equal(parseGoDuration(text), undefined));
  }
});
