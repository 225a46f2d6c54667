import { assert, assertEquals } from "@std/assert";
import { synthesizeVoice } from "../simulation/mod.ts";
import { MIC_FRAME_SAMPLES } from "./broker.ts";
import {
  ANSWER_BOUND_MS,
  findUtterances,
  HEARD_BOUND_MS,
  NO_ANSWER_QUIET_MS,
  PREROLL_MS,
  type ReplayEvent,
  ReplaySource,
  TurnGate,
} from "./replay.ts";

const RATE = 48000;

/** Concatenates parts: numbers are seconds of silence (or of `noise` level), strings are speech. */
function script(parts: (number | string)[], noise = 0): Int16Array {
  const chunks = parts.map((p) =>
    typeof p === "number"
      ? Int16Array.from(
        { length: Math.round(RATE * p) },
        () => Math.round((Math.random() - 0.5) * noise),
      )
      : synthesizeVoice(p, RATE)
  );
  const out = new Int16Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((off, c) => (out.set(c, off), off + c.length), 0);
  return out;
}

const seconds = (samples: number) => samples / RATE;

Deno.test("replay: utterances are the bursts separated by 1 s of silence or more", () => {
  const s = script([0.5, "Hello there", 4, "What can you do", 7, "Okay thanks goodbye", 0.5]);
  const u = findUtterances(s, RATE);
  assertEquals(u.length, 3);
  // Each starts a preroll before its first sound and ends with it (10 ms blocks).
  assert(
    Math.abs(seconds(u[0].start) - (0.5 - PREROLL_MS / 1000)) < 0.02,
    `${seconds(u[0].start)}`,
  );
  const hello = synthesizeVoice("Hello there", RATE).length;
  assert(Math.abs(seconds(u[0].end) - seconds(RATE * 0.5 + hello)) < 0.1);
  assert(seconds(u[1].start) > seconds(u[0].end) + 3.5);
});

Deno.test("replay: pauses under 1 s stay inside an utterance; clicks are not utterances", () => {
  const click = new Int16Array(RATE * 0.02).fill(20000); // 20 ms
  const s = script([0.3, "one two", 0.8, "three four", 2]);
  const withClick = new Int16Array(s.length + click.length + RATE);
  withClick.set(s);
  withClick.set(click, s.length + RATE / 2);
  assertEquals(findUtterances(withClick, RATE).length, 1);
  assertEquals(findUtterances(new Int16Array(RATE), RATE), []);
});

Deno.test("replay: a steady noise floor raises the threshold instead of making one long utterance", () => {
  const s = script([1, "Hello there", 2, "What can you do", 1], 300); // noise about -47 dBFS
  assertEquals(findUtterances(s, RATE).length, 2);
});

/** Runs a source frame by frame; `allow(i, frame)` is the gate. */
function drive(
  src: ReplaySource,
  frames: number,
  allow: (index: number, frame: number) => boolean,
) {
  const log: { frame: number; e: ReplayEvent }[] = [];
  const sent: Int16Array[] = [];
  for (let f = 0; f < frames; f++) {
    const { frame, events } = src.nextFrame((i) => allow(i, f));
    sent.push(frame);
    for (const e of events) log.push({ frame: f, e });
  }
  return { log, sent };
}

Deno.test("replay source: an utterance the gate holds back waits, the file does not advance, nothing is lost", () => {
  const pcm = script([0.3, "Hello there", 1.5, "What can you do", 0.3]);
  const src = new ReplaySource({
    sampleRate: RATE,
    sourceChannels: 1,
    sourceBits: 16,
    samples: pcm,
  });
  assertEquals(src.utterances.length, 2);
  const secondDue = Math.floor(src.utterances[1].start / MIC_FRAME_SAMPLES);
  // The gate refuses utterance 1 for 100 frames (3 s) after it is due.
  const { log, sent } = drive(src, 400, (i, f) => i === 0 || f >= secondDue + 100);
  const kinds = log.map(({ e }) => e.type === "eof" ? "eof" : `${e.type}:${e.index}`);
  assertEquals(kinds, ["start:0", "end:0", "waiting:1", "start:1", "end:1", "eof"]);
  const started = log.find(({ e }) => e.type === "start" && e.index === 1)!.frame;
  assertEquals(started, secondDue + 100);
  // Every sample of the file went out once, in order, with only silence added.
  const joined = new Int16Array(sent.length * MIC_FRAME_SAMPLES);
  sent.forEach((f, i) => joined.set(f, i * MIC_FRAME_SAMPLES));
  const voiced = (a: Int16Array) => a.filter((v) => v !== 0);
  assertEquals(voiced(joined), voiced(pcm));
  assert(src.ended);
});

Deno.test("turn gate: the next utterance waits for the user turn, the reply, and quiet", () => {
  let playing = false;
  const g = new TurnGate(() => playing);
  assertEquals(g.mayStart(0), false); // the agent is still initializing
  g.agentState("listening", 0);
  assertEquals(g.mayStart(0), true);
  g.started(0);
  assertEquals(g.mayStart(100), false); // streaming
  g.ended(0, 1000);
  assertEquals(g.mayStart(1500), false); // not yet a user turn
  g.agentState("thinking", 1600); // preemptive generation can start before the turn
  g.userTurn(1700);
  g.agentState("speaking", 1900);
  playing = true;
  assertEquals(g.mayStart(2000), false);
  g.replied(); // the assistant message comes once its playout has finished...
  assertEquals(g.mayStart(4000), false); // ...but audio still plays and the state says speaking
  playing = false;
  g.agentState("listening", 4100);
  assertEquals(g.mayStart(4100), true);
  assertEquals(g.takeNotes(), []);
});

Deno.test("turn gate: every wait is bounded, and each give-up is reported once", () => {
  const g = new TurnGate(() => false);
  g.agentState("listening", 0);
  // Never heard as a turn.
  g.started(0);
  g.ended(0, 1000);
  assertEquals(g.mayStart(1000 + HEARD_BOUND_MS - 1), false);
  assertEquals(g.mayStart(1000 + HEARD_BOUND_MS), true);
  assertEquals(g.takeNotes(), [{ index: 0, why: "not_heard" }]);
  // Heard, and the agent stays listening without answering: it chose not to.
  g.started(1);
  g.ended(1, 20_000);
  g.userTurn(21_000);
  assertEquals(g.mayStart(21_000 + NO_ANSWER_QUIET_MS - 1), false);
  assertEquals(g.mayStart(21_000 + NO_ANSWER_QUIET_MS), true);
  assertEquals(g.takeNotes(), []);
  // Heard, and the agent stays busy for ever.
  g.started(2);
  g.ended(2, 30_000);
  g.userTurn(30_500);
  g.agentState("thinking", 30_600);
  assertEquals(g.mayStart(30_500 + ANSWER_BOUND_MS - 1), false);
  g.agentState("listening", 30_500 + ANSWER_BOUND_MS - 1); // and now only quiet for 1 ms
  assertEquals(g.mayStart(30_500 + ANSWER_BOUND_MS), true);
  assertEquals(g.takeNotes(), [{ index: 2, why: "not_answered" }]);
});
