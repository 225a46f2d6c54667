/**
 * Tiny agent for the worker tests: records each lifecycle step (one JSON line per event) to the
 * file named by `FIXTURE_EVENTS_FILE`, so a test can tell that a real job process forked, ran
 * `prewarm`, then `entry`, and how its room connection and its shutdown went.
 *
 * Job metadata "hold" skips the room connection and keeps the job running until it is told to
 * end (termination, drain timeout), which is how the tests get an "active call" without a room.
 * "stuck" holds too, and its shutdown never completes (a call whose teardown hangs); "throw"
 * fails its entry at once (a call whose code throws).
 * @module
 */
import { defineAgent, type JobContext, type JobProcess } from "@livekit/agents";
import { guardPrewarm } from "../job_process.ts";

function record(event: string, extra: Record<string, unknown> = {}): void {
  const file = Deno.env.get("FIXTURE_EVENTS_FILE");
  if (!file) return;
  Deno.writeTextFileSync(file, JSON.stringify({ event, pid: Deno.pid, ...extra }) + "\n", {
    append: true,
  });
}

export default defineAgent({
  // Guarded as agent.ts should be: a shutdown during prewarm ends the idle process at once.
  prewarm: guardPrewarm(async (_proc: JobProcess) => {
    record("prewarm");
    // Lets a test send SIGTERM while idle processes are still prewarming (known pitfall).
    const delay = Number(Deno.env.get("FIXTURE_PREWARM_MS") ?? 0);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    record("prewarmed");
  }),
  entry: async (ctx: JobContext) => {
    const jobId = ctx.job.id;
    record("entry", { jobId, room: ctx.job.room?.name });
    ctx.addShutdownCallback(() => {
      record("shutdown", { jobId });
      return Promise.resolve();
    });
    if (ctx.job.metadata === "throw") {
      record("throwing", { jobId });
      throw new Error("fixture: this call's code throws");
    }
    if (ctx.job.metadata === "stuck") {
      ctx.addShutdownCallback(() => new Promise<void>(() => record("stuck", { jobId })));
      record("holding", { jobId });
      return;
    }
    if (ctx.job.metadata === "hold") {
      // The job stays active until agents-js closes it; entry returning does not end a job.
      record("holding", { jobId });
      return;
    }
    try {
      await ctx.connect();
      record("connected", { jobId });
    } catch (e) {
      record("connect_failed", { jobId, error: e instanceof Error ? e.message : String(e) });
      throw e;
    }
  },
});
