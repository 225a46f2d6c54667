/**
 * Test support for the worker tests: the fixture worker (`run_worker.ts`, the fixture agent) as
 * a real child process, and the fixture agent's events file. The child-process handling itself
 * lives in `testing/real_room/worker_process.ts`.
 * @module
 */
import { fileURLToPath } from "node:url";
import {
  BLANK_ENV,
  type SpawnOptions,
  spawnWorker as spawnProcess,
  type WorkerProcess,
} from "../../testing/real_room/worker_process.ts";
import { bounded, until } from "../../testing/wait.ts";
import { assert } from "@std/assert";
import { WorkerServerStandIn } from "../../testing/fakes/worker_server.ts";

export {
  BLANK_ENV,
  ROOT,
  type SpawnOptions,
  waitAllDead,
  WorkerProcess,
} from "../../testing/real_room/worker_process.ts";

/** The test entry that runs the worker with the fixture agent. */
export const RUN_WORKER = fileURLToPath(new URL("./run_worker.ts", import.meta.url));

/** Starts `deno run -A <script> ...args` from the repository root (default: the fixture worker). */
export function spawnWorker(opts: SpawnOptions): WorkerProcess {
  return spawnProcess({ ...opts, script: opts.script ?? RUN_WORKER });
}

export { bounded, until };

/** One fixture-agent event (see fixture_agent.ts). */
export interface FixtureEvent {
  event: string;
  pid: number;
  jobId?: string;
  error?: string;
}

/** Reads the fixture agent's events file. */
export function readEvents(file: string): FixtureEvent[] {
  let text = "";
  try {
    text = Deno.readTextFileSync(file);
  } catch {
    return [];
  }
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

/** Waits for a fixture event matching `match`. */
export function waitForEvent(
  file: string,
  match: (e: FixtureEvent) => boolean,
  timeoutMs = 20_000,
  what = "a fixture event",
): Promise<FixtureEvent> {
  return until(
    () => readEvents(file).find(match),
    timeoutMs,
    `${what}; events: ${JSON.stringify(readEvents(file))}`,
  );
}

/** A port nothing listens on (bound, then released). */
export function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Environment for a worker pointed at `url`. */
export function workerEnv(
  url: string,
  secret: string,
  events: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...BLANK_ENV,
    LIVEKIT_URL: url,
    LIVEKIT_API_KEY: "devkey",
    LIVEKIT_API_SECRET: secret,
    FIXTURE_EVENTS_FILE: events,
    ...extra,
  };
}

/**
 * Registers the worker that connected to `si`, offers it a job that holds (the fixture
 * agent stays in the call until ended) and waits until its entrypoint holds the call.
 */
export async function holdOneJob(
  si: WorkerServerStandIn,
  events: string,
  timeoutMs = 20_000,
  metadata = "hold",
) {
  const conn = await si.nextWorker();
  await conn.register();
  const job = conn.offerJob({ metadata });
  assert((await conn.awaitAvailability(job.id)).available);
  await conn.assign(job);
  const holding = await waitForEvent(
    events,
    (e) => e.event === "holding" && e.jobId === job.id,
    timeoutMs,
  );
  return { conn, job, holding };
}

/** Runs `body` with a stand-in, a temp events file, and cleanup of both and of every worker. */
export async function withStandIn(
  body: (ctx: {
    si: WorkerServerStandIn;
    events: string;
    spawn: (args: string[], extraEnv?: Record<string, string>) => WorkerProcess;
  }) => Promise<void>,
  standInOpts: Parameters<typeof WorkerServerStandIn.start>[0] = {},
): Promise<void> {
  const si = await WorkerServerStandIn.start(standInOpts);
  const events = await Deno.makeTempFile({ prefix: "worker-events-" });
  const workers: WorkerProcess[] = [];
  try {
    await body({
      si,
      events,
      spawn: (args, extraEnv = {}) => {
        const w = spawnWorker({
          args,
          env: workerEnv(si.url, si.credentials.apiSecret, events, extraEnv),
        });
        workers.push(w);
        return w;
      },
    });
  } finally {
    for (const w of workers) await w.stop();
    await si.close();
    await Deno.remove(events).catch(() => {});
  }
}
