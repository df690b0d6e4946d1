/**
 * Loaded into the audited CLI (`node --import …/audit-probe.js dist/src/cli.js audit …`): when
 * the process exits, writes its peak RSS (VmHWM, the kernel's own high-water mark) and its
 * heap, sampled every 25 ms and at exit, to the file in BENCH_AUDIT_PROBE_OUT. Nothing else
 * of the CLI changes.
 */
import { writeFileSync } from "node:fs";
import { processMemoryKiB } from "../test/support/measure.js";

const out = process.env.BENCH_AUDIT_PROBE_OUT;
let heapUsedPeak = 0;
let heapTotalPeak = 0;
const sample = () => {
  const { heapUsed, heapTotal } = process.memoryUsage();
  heapUsedPeak = Math.max(heapUsedPeak, heapUsed);
  heapTotalPeak = Math.max(heapTotalPeak, heapTotal);
};
setInterval(sample, 25).unref();

process.on("exit", () => {
  sample();
  if (!out) return;
  writeFileSync(
    out,
    JSON.stringify({
      vmHwmKiB: processMemoryKiB(process.pid, "VmHWM"),
      vmRssKiB: processMemoryKiB(process.pid, "VmRSS"),
      heapUsedPeakBytes: heapUsedPeak,
      heapTotalPeakBytes: heapTotalPeak,
      heapUsedAtExitBytes: process.memoryUsage().heapUsed,
    }),
  );
});
