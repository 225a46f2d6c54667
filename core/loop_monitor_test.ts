import { assert } from "@std/assert";
import { initializeLogger, telemetry } from "@livekit/agents";
import { discountSetup } from "./loop_monitor.ts";
import { until } from "../testing/wait.ts";

type Report = telemetry.loopMonitor.BlockedReport;

// The monitor's reports go through agents-js's logger; keep them off the test output.
initializeLogger({ pretty: false, level: "error" });

/** Holds the loop (synchronous work) for `ms`. */
function block(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
}

/** A monitor as agents-js starts one (watchdog thread on), with a low threshold. */
function startMonitor(
  discount: boolean,
): { monitor: telemetry.loopMonitor.EventLoopMonitor; reports: Report[]; setupMs: number } {
  const monitor = new telemetry.loopMonitor.EventLoopMonitor({
    warnThreshold: 20,
    errorThreshold: 1_000,
    tickInterval: 10,
    name: "test",
    emitSpans: false,
  });
  const reports: Report[] = [];
  monitor.onReport = (r) => reports.push(r);
  const startedAt = Date.now();
  const t0 = performance.now();
  monitor.start();
  const setupMs = performance.now() - t0;
  if (discount) discountSetup(monitor, startedAt + setupMs, setupMs);
  return { monitor, reports, setupMs };
}

Deno.test("loop monitor: agents-js's own start-up (its watchdog thread, created synchronously by Deno) reads as a stall", async () => {
  const { monitor, reports, setupMs } = startMonitor(false);
  try {
    assert(setupMs >= 20, `the watchdog took ${setupMs.toFixed(1)} ms to create`);
    const first = await until(() => reports[0], 2_000, "the first report");
    // What the monitor blamed on "synchronous work on the agent loop": its own set-up.
    assert(first.duration >= setupMs - 10, `${first.duration} ms vs set-up ${setupMs} ms`);
  } finally {
    monitor.stop();
  }
});

Deno.test("loop monitor: with the set-up discounted, a real block in the same window is reported with its own duration, not the set-up's", async () => {
  const { monitor, reports, setupMs } = startMonitor(true);
  try {
    assert(setupMs >= 20, `the watchdog took ${setupMs.toFixed(1)} ms to create`);
    block(80);
    const real = await until(() => reports[0], 2_000, "the real block's report");
    assert(
      real.duration >= 70 && real.duration < 80 + 20,
      `${real.duration.toFixed(1)} ms reported for an 80 ms block after a ${
        setupMs.toFixed(1)
      } ms set-up`,
    );
  } finally {
    monitor.stop();
  }
});
