/**
 * Fixed samples for the density bench's tests: a level built from round numbers, so each test
 * can say what its figures must come to.
 *
 * @module
 */
import type { CallRecord, LevelSamples } from "../samples.ts";

/** A call that went as planned: answered, 3 replies, goodbye heard, room deleted 100 ms after. */
export function goodCall(i: number, replies = [1000, 1100, 1200]): CallRecord {
  return {
    room: `room-${i}`,
    answered: true,
    agentJoinMs: 500,
    replyLatencyMs: replies,
    talkTurns: replies.length - 1,
    byeSaid: true,
    byeTries: 1,
    goodbyeInFull: true,
    byeToGoodbyeMs: 900,
    goodbyeEndToGoneMs: 100,
    disconnectReason: "ROOM_DELETED",
    durationMs: 50_000,
  };
}

/**
 * A level of `n` good calls: idle tree 1000 MiB RSS and 600 MiB PSS, peak +100 MiB RSS and
 * +50 MiB PSS per call; 0.1 cores per call over a 30 s talking stretch; 10 CPU s per call over
 * the whole level; callers 0.5 cores.
 */
export function level(n: number, over: Partial<LevelSamples> = {}): LevelSamples {
  return {
    runtime: "deno",
    n,
    load: { start: [0.5, 0.4, 0.3], end: [1.5, 0.8, 0.4] },
    idle: { rssKiB: 1000 * 1024, pssKiB: 600 * 1024, processes: 5 },
    peak: { rssKiB: (1000 + 100 * n) * 1024, pssKiB: (600 + 50 * n) * 1024, processes: 6 },
    talk: { seconds: 30, treeCpuS: 3 * n, callersCpuS: 15 },
    whole: { seconds: 60, treeCpuS: 10 * n, callersCpuS: 30 },
    calls: Array.from({ length: n }, (_, i) => goodCall(i)),
    callerProcesses: Math.ceil(n / 4),
    roomsLeft: 0,
    jobsAssigned: n,
    jobsEnded: n,
    vadLate: { warnings: 0, maxDelayMs: 0 },
    ...over,
  };
}
