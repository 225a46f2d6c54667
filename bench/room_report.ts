/**
 * The room load's report in `deno task bench` (`bench/main.ts` dispatches here): `--only room`
 * runs the levels alone; the result is printed, written to `bench/results/` and put in its block of
 * the benchmarks page, with the notes on how it is measured. The levels themselves run in
 * `bench/room_load.ts`, their table is drawn by `bench/room_load_table.ts`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { P95_FACTOR, roomLoadInSandbox, type RoomLoadResult } from "./room_load.ts";
import { lkStatsList, roomLoadTable } from "./room_load_table.ts";
import { BENCHMARKS_DOC, writeDocBlock } from "./doc_blocks.ts";
import { writeLatestResult } from "./results.ts";

/** The room load result's file in `bench/results/`. */
export const ROOM_LATEST = "room_load_latest.json";

/** The levels of a `--levels 1,2,4,...` flag: its positive integers, in order. */
export function levelsOf(spec: string): number[] {
  return spec.split(",").map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

/** What the room load figures mean, written under its table in the benchmarks page. */
export const ROOM_NOTES =
  `How it is measured (\`bench/room_load.ts\`): one \`main.ts start\` worker (production defaults,
\`MAX_JOBS=64\` so capacity is counted in calls, not CPU load) against the real livekit-server, all
inside the test sandbox; each caller is a real rtc-node participant (4 per caller process) that joins
a fresh room, waits for the agent, says hello and asks a question twice, then says bye. Reply latency
is what the caller hears: the end of its speech to the first agent audio after it (VAD endpointing
0.5 s, simulated LLM first token 200 ms and TTS first audio 100 ms included). "Goodbye heard in full"
compares the caller's recording with what the simulation synthesized for "Goodbye!". RSS per call is
the worker tree's peak during the level minus its idle RSS, over N (each call also makes the pool
prewarm a replacement process). CPU per call is the tree's CPU time over the level (job processes
that exited included), over N, and that over the call's length. The callers, the server and the
simulation share the same 2 cores, so the figures are an upper bound of what the agent alone costs.

LiveKit's own load tester, \`lk perf agent-load-test\` (LiveKit CLI v2.16.4), runs after the levels
when the bench finds \`lk\` (\`LK_BIN\`, \`~/.cache/exit-message/lk-v2.16.4/lk\`, or PATH); otherwise
the block says why it did not run.`;

/** Prints the room load result, writes its JSON and (with `docs`) its block in the docs. */
export async function reportRoom(
  room: RoomLoadResult,
  docs: boolean,
  write = true,
): Promise<void> {
  const header = [
    `Date: ${
      room.date.slice(0, 16).replace("T", " ")
    } UTC · machine: ${room.machine.cpu}, ${room.machine.cores} cores, ${room.machine.memGiB} GiB · turn detection: ${room.turnDetection}`,
    `Command: \`${room.command}\``,
  ].join("  \n");
  const summary =
    `Largest number of concurrent calls the machine above holds with p95 reply latency under ${P95_FACTOR}x its 1-call value (${
      Math.round(room.baselineP95Ms)
    } ms), every call completed and every goodbye heard in full: **${room.maxHeldN}**. At the end: ${room.roomsLeft.length} room(s) left (the server given its 20 s departure timeout to close the rooms of failed calls, whose callers hung up), ${room.jobsAssigned} job(s) assigned and ${room.jobsEnded} ended.`;
  const table = roomLoadTable(room);
  const lk = room.lk.ran
    ? `LiveKit's own load tester against the same worker (registered under an agent name), ${room.lk.version}: \`${room.lk.command}\`\n\n${
      lkStatsList(room.lk.table ?? "")
    }`
    : `LiveKit's own \`lk perf agent-load-test\` did not run: ${room.lk.why}.`;
  console.log(`\n${header}\n\n${table}\n\n${summary}\n\n${lk}\n`);
  if (docs) {
    const block = `${header}\n\n${table}\n\n${summary}\n\n${lk}\n\n${ROOM_NOTES}`;
    await writeDocBlock(BENCHMARKS_DOC, block, "room");
    console.log(`${BENCHMARKS_DOC}: the room load block was updated`);
  }
  if (!write) return;
  await writeLatestResult(ROOM_LATEST, room);
}

/** `deno task bench --only room`: the room load alone (no Node peer needed). */
export async function runRoomOnly(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      only: { type: "string" },
      levels: { type: "string", default: "1,2,4,8,12,16,24" },
      "no-docs": { type: "boolean", default: false },
    },
  });
  const room = await roomLoadInSandbox(levelsOf(values.levels));
  room.command = `deno task bench ${args.join(" ")}`.trim();
  await reportRoom(room, !values["no-docs"]);
}
