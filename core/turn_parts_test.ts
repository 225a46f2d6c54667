/**
 * Per-turn parts from agents-js's metrics, and the console tracker reading them off the wire
 * (messages built as agents-js's `encodeChatItem` encodes them: seconds, Timestamps for `*At`).
 */
import { Duration, Timestamp } from "@bufbuild/protobuf";
import { AgentSession as pb } from "@livekit/protocol";
import { assertEquals, assertMatch } from "@std/assert";
import { describeTurn, turnFields, turnParts } from "./turn_parts.ts";
import { TurnPartsTracker } from "../console/turn_view.ts";

const END = 1_800_000_000; // epoch seconds of the end of speech

const user = {
  startedSpeakingAt: END - 1.2,
  stoppedSpeakingAt: END,
  transcriptionDelay: 0.34,
  endOfTurnDelay: 0.52,
};
const assistant = {
  startedSpeakingAt: END + 0.81,
  llmNodeTtft: 0.2,
  ttsNodeTtfb: 0.1,
  e2eLatency: 0.81,
};

Deno.test("turnParts: milliseconds from the end of speech, the two model times as durations", () => {
  const p = turnParts({
    user,
    assistant,
    vadEndAt: END * 1000 + 560,
    decidedBy: "cloud_model",
    eot: { probability: 0.95, threshold: 0.5, inferenceMs: 12 },
  })!;
  assertEquals(p.endOfSpeechAt, END * 1000);
  assertEquals(Math.round(p.vadEndOfSpeechMs!), 560);
  assertEquals(Math.round(p.sttFinalMs!), 340);
  assertEquals(Math.round(p.turnDecisionMs!), 520);
  assertEquals(Math.round(p.llmFirstTokenMs!), 200);
  assertEquals(Math.round(p.ttsFirstAudioMs!), 100);
  assertEquals(Math.round(p.replyStartMs!), 810);
  assertEquals(
    describeTurn(p),
    "reply 0.81 s after the end of speech · turn decided at 0.52 s by the cloud end-of-turn model (0.95 ≥ 0.50) · STT final 0.34 s · LLM first token 0.20 s · TTS first audio 0.10 s",
  );
  assertEquals(turnFields(p).decided_by, "cloud_model");
  assertEquals(turnFields(p).reply_ms, 810);
});

Deno.test("turnParts: typed input (no end of speech) has no parts; speech agents-js could not place keeps what is known", () => {
  assertEquals(turnParts({ user: {}, decidedBy: "vad" }), undefined);
  const p = turnParts({ user: {}, assistant, vadEndAt: END * 1000, decidedBy: "no_model" })!;
  assertEquals(p.endOfSpeechAt, undefined);
  assertEquals(p.turnDecisionMs, undefined);
  assertEquals(Math.round(p.llmFirstTokenMs!), 200);
  assertMatch(
    describeTurn(p),
    /^reply \? after the end of speech · turn decided at \? by endpointing/,
  );
});

function ts(seconds: number): Timestamp {
  return new Timestamp({
    seconds: BigInt(Math.floor(seconds)),
    nanos: Math.round((seconds % 1) * 1e9),
  });
}

function item(role: pb.ChatRole, m: typeof user | typeof assistant): pb.AgentSessionEvent {
  const metrics = new pb.MetricsReport({
    ...m,
    startedSpeakingAt: ts(m.startedSpeakingAt),
    stoppedSpeakingAt: "stoppedSpeakingAt" in m ? ts(m.stoppedSpeakingAt) : undefined,
  });
  return new pb.AgentSessionEvent({
    event: {
      case: "conversationItemAdded",
      value: new pb.AgentSessionEvent_ConversationItemAdded({
        item: new pb.ChatContext_ChatItem({
          item: { case: "message", value: new pb.ChatMessage({ role, metrics }) },
        }),
      }),
    },
  });
}

function eot(probability: number, inferenceMs: number): pb.AgentSessionEvent {
  return new pb.AgentSessionEvent({
    event: {
      case: "eotPrediction",
      value: new pb.AgentSessionEvent_EotPrediction({
        probability,
        threshold: 0.5,
        inferenceDuration: new Duration({ seconds: 0n, nanos: inferenceMs * 1e6 }),
      }),
    },
  });
}

Deno.test("console tracker: one turn's parts once the reply is added; a model's answer vs no model", () => {
  const tracker = new TurnPartsTracker("default");
  assertEquals(tracker.push(eot(0.95, 12)), undefined);
  assertEquals(tracker.push(item(pb.ChatRole.USER, user)), undefined);
  const p = tracker.push(item(pb.ChatRole.ASSISTANT, assistant))!;
  assertEquals(p.decidedBy, "model");
  assertEquals(Math.round(p.turnDecisionMs!), 520);
  assertEquals(Math.round(p.replyStartMs!), 810);
  assertMatch(describeTurn(p), /by the end-of-turn model \(0\.95 ≥ 0\.50\)/);

  tracker.push(eot(1, 0));
  tracker.push(item(pb.ChatRole.USER, user));
  assertEquals(tracker.push(item(pb.ChatRole.ASSISTANT, assistant))!.decidedBy, "no_model");
});

Deno.test("console tracker: in vad or stt mode the mode decided", () => {
  const tracker = new TurnPartsTracker("stt");
  tracker.push(item(pb.ChatRole.USER, user));
  assertEquals(tracker.push(item(pb.ChatRole.ASSISTANT, assistant))!.decidedBy, "stt");
});
