/**
 * Checks of real-room tests and benchmarks with several workers: which worker served a call, and
 * what a caller saw when its agent was replaced mid-call.
 *
 * @module
 */
import type { Caller, CallerEvent } from "./caller/mod.ts";
import type { WorkerProcess } from "./worker_process.ts";
import { until } from "../wait.ts";

type EventOf<K extends CallerEvent["ev"]> = Extract<CallerEvent, { ev: K }>;

/** Whether `worker`'s job processes logged anything for `room` (a job's lines carry its room). */
export function served(worker: WorkerProcess, room: string): boolean {
  const tag = `"room":"${room}"`;
  return worker.lines.some((l) => l.includes(tag));
}

/** The worker whose job serves `room`, once one logged for it (bounded). */
export function workerOf(
  workers: readonly WorkerProcess[],
  room: string,
  timeoutMs = 10_000,
): Promise<WorkerProcess> {
  return until(
    () => workers.find((w) => served(w, room)),
    timeoutMs,
    `a worker logging for room ${room}`,
  );
}

/** The agent a caller sees now: the last agent that joined and has not left. */
export function currentAgent(caller: Caller): string | undefined {
  const present = new Set<string>();
  for (const e of caller.events()) {
    if (e.ev === "participant_joined" && e.kind === "AGENT") present.add(e.identity);
    if (e.ev === "participant_left") present.delete(e.identity);
  }
  return [...present].at(-1);
}

/**
 * Waits until another agent than `previous` joined `caller`'s room and the caller hears its track.
 * (Whether it subscribed to the microphone cannot be seen from here: the server tells a publisher
 * about its track's first subscriber only, which was the previous agent.)
 */
export async function replacementReady(
  caller: Caller,
  previous: string,
  timeoutMs: number,
): Promise<EventOf<"participant_joined">> {
  const joined = await caller.waitFor(
    "participant_joined",
    timeoutMs,
    (e) => e.kind === "AGENT" && e.identity !== previous,
    `an agent other than ${previous} joined`,
  );
  await caller.waitFor(
    "subscribed",
    timeoutMs,
    (e) => e.identity === joined.identity,
    `the audio track of ${joined.identity}`,
  );
  return joined;
}
