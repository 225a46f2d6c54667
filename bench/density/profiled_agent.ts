/**
 * The real agent with a V8 CPU profile of each job: the profiler (node:inspector, in the job
 * process itself) starts when the job's entry runs and stops when the job shuts down, and the
 * profile is written to `$CPU_PROFILE_DIR/job-<pid>-<n>.cpuprofile` (Chrome DevTools format;
 * `profile_report.ts` sums it by component). Bench-only: production never loads this module.
 *
 * @module
 */
import { defineAgent, type JobContext } from "@livekit/agents";
import inspector from "node:inspector";
import { createEntry } from "../../agent.ts";
import { prewarm, type PrewarmData } from "../../prewarm.ts";
import { guardPrewarm } from "../../worker/job_process.ts";

const entry = createEntry();
let jobs = 0;

function post<T>(session: inspector.Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) =>
    session.post(method, params, (err, res) => err ? reject(err) : resolve(res as T))
  );
}

async function profiledEntry(ctx: JobContext<PrewarmData>): Promise<void> {
  const dir = Deno.env.get("CPU_PROFILE_DIR");
  if (!dir) return await entry(ctx);
  const session = new inspector.Session();
  session.connect();
  await post(session, "Profiler.enable");
  // 1 ms: fine enough for 10 ms audio frames, cheap enough not to change the picture.
  await post(session, "Profiler.setSamplingInterval", { interval: 1000 });
  await post(session, "Profiler.start");
  const n = ++jobs;
  ctx.addShutdownCallback(async () => {
    const { profile } = await post<{ profile: unknown }>(session, "Profiler.stop");
    await Deno.writeTextFile(`${dir}/job-${Deno.pid}-${n}.cpuprofile`, JSON.stringify(profile));
    session.disconnect();
  });
  await entry(ctx);
}

export default defineAgent<PrewarmData>({ prewarm: guardPrewarm(prewarm), entry: profiledEntry });
