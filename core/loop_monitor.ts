/**
 * agents-js's event-loop monitor, started so that it does not report its own start-up.
 *
 * The monitor (`telemetry.loopMonitor`, agents-js 1.9.0) warns "event loop blocked" when a
 * heartbeat timer runs late. Its `start()` takes the time of the last heartbeat, then creates its
 * watchdog thread (a `node:worker_threads` Worker), then schedules the first heartbeat. Deno
 * creates a Worker synchronously: the calling thread waits until the new thread's runtime exists,
 * 50 to 130 ms on an idle 2-core machine and 300 ms and more on a loaded one (measured: see
 * docs/operations.md). So the first heartbeat of every process comes late by exactly the
 * monitor's own set-up, and every worker start and every job process start logged a warning that
 * blamed "synchronous work on the agent loop" for it, in a process with no call yet.
 *
 * {@link startLoopMonitor} starts the same monitor through agents-js's own `startMonitoring`
 * (same thresholds, from `LIVEKIT_AGENTS_LOOP_BLOCK_WARN_MS` / `_ERROR_MS`; same watchdog), before
 * agents-js would (its own call then finds it running and uses it), times that call, and takes
 * exactly that time out of the first measurement. A real stall in the same window is still
 * reported, with its own duration; every later one is untouched.
 * @module
 */
import { telemetry } from "@livekit/agents";

/** agents-js's monitor. */
export type LoopMonitor = telemetry.loopMonitor.EventLoopMonitor;
type BlockedReport = telemetry.loopMonitor.BlockedReport;

/**
 * Starts this process's loop monitor (`name`: agents-js's `worker` or `job`), discounting its own
 * start-up from its first measurement. Undefined when the monitor is off
 * (`LIVEKIT_AGENTS_LOOP_BLOCK_WARN_MS=0`) or already running.
 */
export function startLoopMonitor(
  name: "worker" | "job",
  options: { emitSpans?: boolean } = {},
): LoopMonitor | undefined {
  const startedAt = Date.now();
  const t0 = performance.now();
  const monitor = telemetry.loopMonitor.startMonitoring({ name, emitSpans: options.emitSpans });
  const setupMs = performance.now() - t0;
  if (monitor) discountSetup(monitor, startedAt + setupMs, setupMs);
  return monitor;
}

/**
 * The first report whose stall began before the set-up ended (its `startedAt` is the last
 * on-time heartbeat plus one tick) loses `setupMs`; below the warn threshold it was nothing but
 * the set-up. `report` is TypeScript-private in agents-js, a plain method at run time.
 */
export function discountSetup(monitor: LoopMonitor, setupEndAt: number, setupMs: number): void {
  const target = monitor as unknown as { report(r: BlockedReport): void };
  const report = target.report.bind(monitor);
  // startedAt is computed from Date.now() at the tick: allow a few ms of clock rounding.
  const latestStart = setupEndAt + monitor.tickInterval + 5;
  let first = true;
  target.report = (r: BlockedReport) => {
    if (first && r.startedAt <= latestStart) {
      first = false;
      const duration = r.duration - setupMs;
      if (duration < r.warnThreshold) return;
      r = {
        ...r,
        duration,
        startedAt: r.startedAt + setupMs,
        severity: duration >= monitor.errorThreshold ? "error" : "warning",
      };
    }
    report(r);
  };
}
