/**
 * Spoken turns through the console protocol, in every turn-detection mode and with the
 * end-of-turn model's endpoint failing: the real agent (`main.ts console --connect-addr`), the
 * project's broker, a microphone streaming the simulation's synthetic voice in real time, and the
 * simulation's STT (phrasebook), LLM, TTS and turn detector.
 *
 * What is checked is the turn decision, as the agent reports it on the wire: agents-js ends a
 * turn after the maximum endpointing delay (2.5 s) exactly when an end-of-turn prediction is
 * below its threshold. A model may well say "not finished"; what must never happen is such a
 * prediction without a model behind it (agents-js 1.9.0 scores a local model that cannot run as
 * 0, in 0 ms). Every model answer takes time; the fallback and agents-js's own defaults take none.
 */
import { AgentSession as pb } from "@livekit/protocol";
import { assert, assertEquals, assertGreater } from "@std/assert";
import type { TurnDetection } from "../core/config.ts";
import { FALLBACK_PROBABILITY } from "../core/turn_detection.ts";
import { type EotFault, offlineBrain } from "../simulation/mod.ts";
import { type ReceivedEvent, VoiceConsole } from "../testing/console_voice.ts";
import { HELLO, MODEL_LATENCY, PHRASES } from "../testing/real_room/real_room.ts";

interface Prediction {
  probability: number;
  threshold: number;
  inferenceMs: number;
}

/** One spoken turn as the broker saw it. */
interface Turn {
  /** The end-of-turn predictions the agent reported for it. */
  predictions: Prediction[];
  /** The user's turn was committed: end of speech (broker) to the user message (agent), ms. */
  decisionMs: number;
}

/**
 * The simulated STT ends an utterance after 1 s of silence (default 300 ms): agents-js asks the
 * end-of-turn model once its VAD has heard 200 ms of silence, and decides without the model when
 * the final transcript comes first ("no eot inference request in flight"). On a busy machine the
 * VAD runs late ("VAD inference is slower than realtime"), so a fast STT often wins that race.
 */
const STT_END_SILENCE_MS = 1000;

async function session(mode: TurnDetection, eotFault?: EotFault): Promise<VoiceConsole> {
  return await VoiceConsole.start({
    env: { TURN_DETECTION: mode, LOG_LEVEL: "debug" },
    gateway: {
      llm: offlineBrain(),
      sttPhrasebook: PHRASES,
      speech: { endSilenceMs: STT_END_SILENCE_MS },
      latency: MODEL_LATENCY,
      faults: eotFault ? { eot: eotFault } : {},
    },
  });
}

const isMessage = (e: ReceivedEvent, role: pb.ChatRole) =>
  e.event.event.case === "conversationItemAdded" &&
  e.event.event.value.item?.item.case === "message" &&
  e.event.event.value.item.item.value.role === role;

/**
 * Says "Hello there!" (the VAD follows the synthetic voice to its end; the synthetic question's
 * rising end is lost by Silero), waits for the reply to be played and added.
 */
async function turn(vc: VoiceConsole): Promise<Turn> {
  const said = await vc.say(HELLO);
  const user = await vc.eventMatching(
    (e) => e.at > said.startAt && isMessage(e, pb.ChatRole.USER),
    30_000,
    "user message (the turn was never committed)",
  );
  await vc.eventMatching(
    (e) => e.at > user.at && isMessage(e, pb.ChatRole.ASSISTANT),
    30_000,
    "reply played and added",
  );
  const predictions: Prediction[] = [];
  for (const e of vc.events) {
    const ev = e.event.event;
    if (e.at < said.startAt || e.at > user.at || ev.case !== "eotPrediction") continue;
    const d = ev.value.inferenceDuration;
    predictions.push({
      probability: ev.value.probability,
      threshold: ev.value.threshold,
      inferenceMs: d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : 0,
    });
  }
  return { predictions, decisionMs: (user.createdAt ?? user.at) - said.endAt };
}

/** The lines of the agent's log about the end-of-turn model, for failure messages. */
function eotLog(vc: VoiceConsole): string {
  return vc.agent.lines.filter((l) =>
    /end-of-turn|turn detector|endOfTurnProbability|endpointingDelay|trigger|turn: /.test(l)
  ).join("\n");
}

/** No turn was held for the maximum delay by a "prediction" no model made. */
function noWaitForAMissingModel(vc: VoiceConsole, t: Turn): void {
  for (const p of t.predictions) {
    assert(
      p.probability >= p.threshold || p.inferenceMs > 0,
      `a prediction of ${p.probability} in ${p.inferenceMs} ms (no model) held the turn for the ` +
        `maximum delay (decided ${Math.round(t.decisionMs)} ms after the end of speech)\n${
          eotLog(vc)
        }`,
    );
  }
}

const fromModel = (p: Prediction) => p.inferenceMs > 0;

Deno.test("voice, TURN_DETECTION=vad: VAD decides, no end-of-turn model is asked", async () => {
  await using vc = await session("vad");
  const t = await turn(vc);
  assertEquals(t.predictions, []);
  assertEquals(vc.gateway.log.filter((e) => e.kind === "eot_session").length, 0);
  await vc.agent.waitForLine(/turn: reply .* by VAD endpointing/, 10_000);
});

Deno.test("voice, TURN_DETECTION=stt: STT endpointing decides, no end-of-turn model is asked", async () => {
  await using vc = await session("stt");
  const t = await turn(vc);
  assertEquals(t.predictions, []);
  assertEquals(vc.gateway.log.filter((e) => e.kind === "eot_session").length, 0);
  await vc.agent.waitForLine(/turn: reply .* by STT endpointing/, 10_000);
});

Deno.test("voice, default: the simulation's end-of-turn model decides the turns", async () => {
  await using vc = await session("default");
  const turns = [await turn(vc), await turn(vc)];
  for (const t of turns) {
    noWaitForAMissingModel(vc, t);
    // What it answers, whenever it is asked (a VAD far behind may not ask it in time).
    for (const p of t.predictions) {
      assertEquals(Math.fround(p.probability), Math.fround(0.95));
      assert(fromModel(p));
    }
  }
  assert(turns.some((t) => t.predictions.length > 0), `the model was never asked\n${eotLog(vc)}`);
  await vc.agent.waitForLine(/turn: reply .* by the cloud end-of-turn model/, 10_000);
});

Deno.test("voice, default, turn-detector endpoint unreachable (404): the console agent loads the local model at once; a turn before it is loaded ends by endpointing at the minimum delay, after it the model decides", async () => {
  await using vc = await session("default", "not_found");
  await vc.agent.waitForLine(/loading the local end-of-turn model in this process/, 30_000);
  const turns = [await turn(vc)];
  await vc.agent.waitForLine(/local end-of-turn model loaded in this process/, 30_000);
  // Once loaded, the model answers when it is asked (whatever it thinks of the synthetic voice:
  // the wait is its decision). agents-js asks it when its VAD ends the speech; Silero often
  // misses the synthetic voice's later turns, which then end by the STT without asking anyone.
  // So up to four turns are spoken for one model answer.
  while (turns.length < 4 && !turns.some((t) => t.predictions.some(fromModel))) {
    turns.push(await turn(vc));
  }
  for (const t of turns) {
    noWaitForAMissingModel(vc, t);
    // Before the model is loaded the fallback answers (1 in 0 ms); once loaded, the model.
    for (const p of t.predictions) {
      assert(p.probability === FALLBACK_PROBABILITY || fromModel(p), eotLog(vc));
    }
  }
  assert(
    turns.some((t) => t.predictions.some(fromModel)),
    `the loaded model never answered in ${turns.length} turns\n${eotLog(vc)}`,
  );
  assert(
    vc.agent.lines.filter((l) => l.includes("the end-of-turn model cannot answer")).length <= 1,
  );
});

Deno.test("voice, default, turn-detector endpoint never answers: the turn goes on after agents-js's 1 s prediction timeout", async () => {
  await using vc = await session("default", "never_answer");
  const t = await turn(vc);
  noWaitForAMissingModel(vc, t);
  assertEquals(t.predictions, [], "a prediction nobody made");
  assert(vc.gateway.log.some((e) => e.kind === "fault" && e.fault === "never_answer"));
  assertGreater(t.decisionMs, 0);
});
