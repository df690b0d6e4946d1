/**
 * Loaded into the audited CLI (`node --import …/audit-probe.js dist/src/cli.js audit …`): when
 * the process exits, writes its peak RSS (VmHWM, the kernel's own high-water mark) and its
 * heap, sampled every 25 ms and at exit, to the file in BENCH_AUDIT_PROBE_OUT. Nothing else
 * of the CLI changes.
 */
import { readFileSync, writeFileSync } from "node:fs";

const out = process.env.BENCH_AUDIT_PROBE_OUT;
let heapUsedPeak = 0;
let heapTotalPeak = 0;
const sample = () => {
  const { heapUsed, heapTotal } = process.memoryUsage();
  heapUsedPeak = Math.max(heapUsedPeak, heapUsed);
  heapTotalPeak = Math.max(heapTotalPeak, heapTotal);
};
setInterval(sample, 25).unref();

const kiB = (status: string, field: string) =>
  Number(status.match(new RegExp(`${field}:\\s+(\\d+) kB`))?.[1] ?? 0);

process.on("exit", () => {
  sample();
  if (!out) return;
  const status = readFileSync("/proc/self/status", "utf8");
  writeFileSync(
    out,
    JSON.stringify({
      vmHwmKiB: kiB(status, "VmHWM"),
      vmRssKiB: kiB(status, "VmRSS"),
      heapUsedPeakBytes: heapUsedPeak,
      heapTotalPeakBytes: heapTotalPeak,
      heapUsedAtExitBytes: process.memoryUsage().heapUsed,
    }),
  );
});
