/**
 * The voice path through the console protocol: the agent's half under one runtime (Deno, or the
 * Node peer), the project's broker streaming the simulation's synthetic voice as a microphone,
 * and the simulation (`testing/console_voice.ts`). Each session says "Hello there!" a few times;
 * every part of each turn is read off the wire (the agent's own event stamps), the simulation's
 * log and the broker's playout.
 *
 * @module
 */
import { AgentSession as pb } from "@livekit/protocol";
import { offlineBrain } from "../simulation/mod.ts";
import { gatewayEpoch, type ReceivedEvent, VoiceConsole } from "../testing/console_voice.ts";
import { HELLO, PHRASES } from "../testing/real_room/real_room.ts";
import { loadavg, sleep } from "./proc.ts";
import type { Runtime } from "./runtimes.ts";
import { VOICE_LATENCY, type VoiceMode, type VoiceTurn, withShare } from "./voice_parts.ts";
import type { Gateway } from "../simulation/mod.ts";

/** The simulation as the voice benchmark configures it (console and room alike). */
export function voiceGateway(mode: VoiceMode) {
  return {
    llm: offlineBrain(),
    sttPhrasebook: PHRASES,
    speech: { endSilenceMs: VOICE_LATENCY.sttEndSilenceMs },
    latency: {
      llmFirstTokenMs: VOICE_LATENCY.llmFirstTokenMs,
      ttsFirstAudioMs: VOICE_LATENCY.ttsFirstAudioMs,
    },
    eot: { latencyMs: VOICE_LATENCY.eotMs },
    faults: mode === "no_model" ? { eot: "not_found" as const } : {},
  };
}

/** `TURN_DETECTION` for a mode. */
export function turnDetectionOf(mode: VoiceMode): string {
  return mode === "no_model" ? "default" : mode;
}

/**
 * When the simulation sent the reply's LLM first token and TTS first audio: the last synthesis
 * started before `heardAt`, and the last LLM request before it (preemptive generation may have
 * restarted one), plus their fixed latencies.
 */
export function modelTimes(
  gw: Gateway,
  after: number,
  heardAt: number,
): { llmFirstTokenAt?: number; ttsFirstAudioAt?: number } {
  const tts = gw.log.filter((e) =>
    e.kind === "tts_transcript" && gatewayEpoch(e) > after && gatewayEpoch(e) < heardAt
  ).at(0);
  if (!tts) return {};
  const llm = gw.log.filter((e) =>
    e.kind === "llm_request" && gatewayEpoch(e) > after && e.t < tts.t
  ).at(-1);
  return {
    llmFirstTokenAt: llm ? gatewayEpoch(llm) + VOICE_LATENCY.llmFirstTokenMs : undefined,
    ttsFirstAudioAt: gatewayEpoch(tts) + VOICE_LATENCY.ttsFirstAudioMs,
  };
}

const isMessage = (e: ReceivedEvent, role: pb.ChatRole) =>
  e.event.event.case === "conversationItemAdded" &&
  e.event.event.value.item?.item.case === "message" &&
  e.event.event.value.item.item.value.role === role;

const stamp = (e: ReceivedEvent | undefined) => e ? e.createdAt ?? e.at : undefined;

/** One console session of `turns` turns under `rt`; the parts of each. */
export async function voiceConsoleSession(
  rt: Runtime,
  mode: VoiceMode,
  turns: number,
): Promise<VoiceTurn[]> {
  await using vc = await VoiceConsole.start({
    env: { TURN_DETECTION: turnDetectionOf(mode), LOG_LEVEL: "info" },
    gateway: voiceGateway(mode),
    spawn: { cmd: rt.cmd, prefix: [...rt.prefix], cwd: rt.cwd },
  });
  await vc.gateway.waitFor((e) => e.kind === "stt_session", 30_000);
  const out: VoiceTurn[] = [];
  for (let i = 0; i < turns; i++) {
    const said = await vc.say(HELLO);
    const user = await vc.eventMatching(
      (e) => e.at > said.startAt && isMessage(e, pb.ChatRole.USER),
      30_000,
      "the user's turn committed",
    );
    const reply = await vc.replyAfter(said.endAt, 30_000);
    await vc.eventMatching(
      (e) => e.at > user.at && isMessage(e, pb.ChatRole.ASSISTANT),
      30_000,
      "the reply played and added",
    );
    const during = vc.events.filter((e) => e.at > said.startAt && e.at <= user.at);
    const vadEnd = during.filter((e) => e.event.event.case === "userStateChanged").at(-1);
    const final = during.filter((e) =>
      e.event.event.case === "userInputTranscribed" && e.event.event.value.isFinal
    ).at(-1);
    const eot = during.map((e) => e.event.event).filter((e) => e.case === "eotPrediction").at(-1);
    const models = modelTimes(vc.gateway, said.startAt, reply.firstFrameAt);
    const rel = (t: number | undefined) => t === undefined ? undefined : t - said.endAt;
    const p = eot?.case === "eotPrediction" ? eot.value : undefined;
    const inferenceMs = p?.inferenceDuration
      ? Number(p.inferenceDuration.seconds) * 1000 + p.inferenceDuration.nanos / 1e6
      : 0;
    out.push(withShare({
      runtime: rt.name,
      where: "console",
      mode,
      decidedBy: mode === "vad" || mode === "stt"
        ? mode
        : p && inferenceMs > 0
        ? "model"
        : "no_model",
      eotProbability: p?.probability,
      vadEndMs: rel(stamp(vadEnd)),
      sttFinalMs: rel(stamp(final)),
      turnDecisionMs: rel(stamp(user)),
      llmFirstTokenMs: rel(models.llmFirstTokenAt),
      ttsFirstAudioMs: rel(models.ttsFirstAudioAt),
      playoutMs: reply.firstFrameAt - said.endAt,
      load: loadavg()[0],
    }, p !== undefined && inferenceMs > 0 && p.probability < p.threshold));
    await sleep(800);
  }
  return out;
}
