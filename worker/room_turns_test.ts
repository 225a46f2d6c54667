/**
 * Spoken turns in a real room, in every turn-detection mode and with the end-of-turn model's
 * endpoint failing or the worker's local model gone: the real livekit-server, a real caller
 * speaking the simulation's synthetic voice, `main.ts start` or `dev` (see
 * `testing/real_room/real_room.ts`).
 *
 * Checked: what decided each turn, from the agent's own `turn:` line (`core/turn_parts.ts`); a
 * wait of the maximum endpointing delay may only come from a model's answer, never from a model
 * that is not there. The simulated STT ends an utterance after 1 s of silence, so the VAD's
 * request to the model (after 200 ms) comes first even on a busy machine (see
 * `console/e2e_voice_turns_test.ts`).
 */
import { assert, assertEquals } from "@std/assert";
import type { Caller } from "../testing/real_room/caller/mod.ts";
import { HELLO, RealRoom, realRoomTest } from "../testing/real_room/real_room.ts";
import { until } from "../testing/wait.ts";
import type { WorkerProcess } from "../testing/real_room/worker_process.ts";

const GATEWAY = { speech: { endSilenceMs: 1000 } };

/** Says hello and waits until the reply has been heard in full. */
async function helloTurn(caller: Caller): Promise<void> {
  const said = await caller.say(HELLO);
  await caller.heardAfter(said.endAt, 30_000, "the reply to hello");
}

/** The worker's `turn:` lines so far, whatever the log format (JSON in start, pretty in dev). */
function turnLines(worker: WorkerProcess): string[] {
  return worker.lines.filter((l) => l.includes("turn: reply"));
}

function eotLog(worker: WorkerProcess): string {
  return worker.lines.filter((l) =>
    /end-of-turn|turn detector|inference|turn: /.test(l) && !l.includes('"level":20')
  ).map((l) => l.slice(0, 400)).join("\n");
}

/** The worker's lines about turns, speech and replies, for a failure's message. */
function turnLog(worker: WorkerProcess): string {
  return worker.lines.filter((l) =>
    /turn|speech|speaking|repl|preemptive|interrupt|eot|end-of-turn|inference|warn|error/i.test(l)
  ).map((l) => l.slice(0, 300)).slice(-60).join("\n");
}

realRoomTest(
  "real room, TURN_DETECTION=vad and stt: endpointing decides, no end-of-turn model is asked",
  async () => {
    await using room = await RealRoom.start({ gateway: GATEWAY });
    for (const mode of ["vad", "stt"] as const) {
      const worker = await room.startWorker(["start"], { TURN_DETECTION: mode });
      const caller = await room.call();
      await helloTurn(caller);
      const line = await worker.waitForLine(/turn: reply/, 15_000);
      assertEquals(JSON.parse(line).decided_by, mode, line);
      await caller.hangup();
      await worker.stop();
    }
    assertEquals(room.gateway.log.filter((e) => e.kind === "eot_session").length, 0);
  },
);

realRoomTest(
  "real room, default in dev: the cloud end-of-turn model (simulated) decides, after the minimum delay",
  async () => {
    await using room = await RealRoom.start({ gateway: GATEWAY });
    const worker = await room.startWorker(["dev"], { TURN_DETECTION: "default" });
    const caller = await room.call();
    await helloTurn(caller);
    const line = await worker.waitForLine(/turn: reply/, 15_000);
    assert(line.includes("by the cloud end-of-turn model (0.95 ≥ 0.50)"), eotLog(worker));
    assert(room.gateway.log.some((e) => e.kind === "eot_prediction"));
  },
);

realRoomTest(
  "real room, default in dev, turn-detector endpoint refused: the worker's local model (inference process) takes over and answers",
  async () => {
    await using room = await RealRoom.start({ gateway: { ...GATEWAY, faults: { eot: "refuse" } } });
    const worker = await room.startWorker(["dev"], { TURN_DETECTION: "default" });
    const caller = await room.call();
    await worker.waitForLine(/cloud turn detector failed; falling back to local mini model/);
    // The local model's answer on the synthetic voice is its own; what matters is that it
    // answered. Up to three turns: a busy machine can make one miss agents-js's 1 s prediction
    // bound (the first answer of a cold model most of all; then agents-js decides without it).
    const local = (l: string) => l.includes("by the local end-of-turn model (");
    for (let turn = 1; turn <= 3 && !turnLines(worker).some(local); turn++) {
      await helloTurn(caller);
      await until(() => turnLines(worker).length >= turn || undefined, 15_000, `turn line ${turn}`)
        .catch((e) => {
          throw new Error(`${e.message}; the worker said:\n${turnLog(worker)}`);
        });
    }
    assert(
      turnLines(worker).some(local),
      eotLog(worker),
    );
    // The signature of the bug: no model answered, yet a prediction below the threshold held it.
    for (const l of turnLines(worker)) {
      assert(!/no end-of-turn model answered\) \(0\.\d+ </.test(l), l);
    }
  },
);

realRoomTest(
  "real room, default in start, the worker's inference process killed: the local model cannot answer, the turn ends by endpointing, not the maximum delay",
  async () => {
    await using room = await RealRoom.start({ gateway: GATEWAY });
    const worker = await room.startWorker(["start"], { TURN_DETECTION: "default" });
    const inference = await worker.inferenceProcesses(30_000);
    assertEquals(inference.length, 1, "one inference process");
    Deno.kill(inference[0], "SIGKILL");
    const caller = await room.call();
    await helloTurn(caller);
    const line = await worker.waitForLine(/turn: reply/, 15_000);
    const turn = JSON.parse(line);
    assertEquals(turn.decided_by, "no_model", eotLog(worker));
    // agents-js's worker answers the job's request with the IPC error, and the guard's fallback
    // answers 1 (before the fix: scored 0, so 2.5 s); a request the dead process swallows is
    // given up by agents-js after 1 s, with no prediction at all.
    assert(turn.eot_probability === undefined || turn.eot_probability === 1, line);
  },
);
