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
