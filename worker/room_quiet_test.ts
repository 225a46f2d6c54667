/**
 * A normal call in a real room logs nothing at warn or above, in the main process or the job
 * processes: hello, a question, bye, the goodbye heard, the room deleted, the job process gone
 * and its replacement prewarmed (`main.ts start` against the real livekit-server).
 *
 * Three kinds of line are not the call's doing and are reported, not failed on (see
 * docs/operations.md, "Quiet logs"):
 * - agents-js's event-loop monitor reporting a stall during which the loop thread itself ran for
 *   less than the warn threshold: on an uncontended core that stall could not have reached the
 *   threshold, so the machine's other load stretched it (this 2-core test machine runs the server,
 *   the callers and other tests besides). A stall whose loop thread did burn the threshold's worth
 *   of CPU is the agent's own block, and fails the test.
 * - the Silero plugin's `VAD inference is slower than realtime`: its own measure of the machine
 *   not giving the VAD the CPU to keep up with the audio (the lag it reports grows while the
 *   process is starved, and shrinks when it runs again).
 * - agents-js 1.9.0's `rotateSegment called while previous segment is still being rotated`, which
 *   its transcription synchronizer logs at every session close: the goodbye's playout end and the
 *   outputs' detach each rotate the segment, and the second rotation waits for the first (it is
 *   chained to it), so nothing is lost; the line is agents-js's own, about its own code.
 */
import { assert, assertEquals } from "@std/assert";
import { scrape, value } from "../testing/prometheus.ts";
import { goodbyeHeard, helloExchange, sayHeard } from "../testing/real_room/room_checks.ts";
import {
  BYE,
  jobFinished,
  jsonLines,
  type LogLine,
  QUESTION,
  RealRoom,
  realRoomTest,
  sessionEnded,
} from "../testing/real_room/real_room.ts";
import { until } from "../testing/wait.ts";

const WARN = 40;
const AGENTS_JS_CLOSE_ROTATE = "rotateSegment called while previous segment is still being rotated";
const VAD_LAG = "VAD inference is slower than realtime";

/** A loop-stall report whose loop thread did not itself run for the threshold (see above). */
function contentionStall(line: LogLine): boolean {
  return line.loop !== undefined && typeof line.cpuTime === "number" &&
    typeof line.threshold === "number" && line.cpuTime < line.threshold;
}

realRoomTest(
  "real room: a normal call (hello, a question, bye, goodbye heard, room deleted) logs nothing at warn or above",
  async () => {
    await using room = await RealRoom.start();
    const worker = await room.startWorker();
    const port = Number(
      (await worker.waitForLine(/health and metrics on port \d+/)).match(/port (\d+)/)![1],
    );
    const caller = await room.call();
    await helloExchange(room, caller);
    const asked = await sayHeard(room, caller, QUESTION);
    await caller.heardAfter(asked.endAt, 20_000, "the answer to the question");
    const bye = await sayHeard(room, caller, BYE);
    await goodbyeHeard(room, caller, bye.endAt);
    assertEquals((await caller.disconnected(30_000)).reason, "ROOM_DELETED");
    const ended = await sessionEnded(worker, caller.room, 30_000);
    assertEquals([ended.end_reason, ended.goodbye], ["end_session", "played"]);
    const finished = await jobFinished(worker, ended, 20_000);
    if (finished.via === "process") {
      // The idle process that replaced the one the call took has prewarmed and started its
      // monitor (a call host has none to replace: its calls share its one prewarm).
      await until(
        async () =>
          value(await scrape(port), "lk_agents_proc_initialize_duration_seconds") >= 2 ||
          undefined,
        30_000,
        "the replacement idle process to initialize",
      );
    }

    const loud = jsonLines(worker).filter((l) => typeof l.level === "number" && l.level >= WARN);
    const stalls = loud.filter(contentionStall);
    const vadLag = loud.filter((l) => l.msg === VAD_LAG);
    const rotates = loud.filter((l) => l.msg === AGENTS_JS_CLOSE_ROTATE);
    const rest = loud.filter((l) =>
      !stalls.includes(l) && !vadLag.includes(l) && !rotates.includes(l)
    );
    console.log(
      `warn+ lines: ${loud.length}; loop stalls with loop-thread CPU under the threshold ` +
        `(machine load, ${Deno.readTextFileSync("/proc/loadavg").trim()}): ${stalls.length}; ` +
        `VAD lag: ${vadLag.length}; agents-js close-time rotateSegment: ${rotates.length}`,
    );
    for (const s of stalls) {
      console.log(
        `  stall ${s.duration} ms, loop thread CPU ${s.cpuTime} ms, watchdog late ${s.watchdogGap} ms, pid ${s.pid}`,
      );
    }
    assert(
      rest.length === 0,
      `a normal call logged at warn or above:\n${
        rest.map((l) => JSON.stringify(l).slice(0, 600)).join("\n")
      }`,
    );
  },
);
