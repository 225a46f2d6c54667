import { assertEquals, assertMatch } from "@std/assert";
import { Duration, Timestamp } from "@bufbuild/protobuf";
import { AgentSession as pb } from "@livekit/protocol";
import { formatLatency, LatencyLog } from "./latency.ts";
import { turnDetectionOf, TurnPartsTracker } from "./turn_view.ts";

const at = (epochMs: number) => Timestamp.fromDate(new Date(epochMs));
const END = 1_700_000_000_000; // the end of the user's speech, epoch ms

function message(role: pb.ChatRole, metrics: Partial<pb.MetricsReport>): pb.AgentSessionEvent {
  return new pb.AgentSessionEvent({
    event: {
      case: "conversationItemAdded",
      value: new pb.AgentSessionEvent_ConversationItemAdded({
        item: new pb.ChatContext_ChatItem({
          item: {
            case: "message",
            value: new pb.ChatMessage({ role, metrics: new pb.MetricsReport(metrics) }),
          },
        }),
      }),
    },
  });
}

const userStoppedSpeaking = (epochMs: number) =>
  new pb.AgentSessionEvent({
    createdAt: at(epochMs),
    event: {
      case: "userStateChanged",
      value: new pb.AgentSessionEvent_UserStateChanged({
        oldState: pb.UserState.US_SPEAKING,
        newState: pb.UserState.US_LISTENING,
      }),
    },
  });

const eot = (probability: number, inferenceMs: number) =>
  new pb.AgentSessionEvent({
    event: {
      case: "eotPrediction",
      value: new pb.AgentSessionEvent_EotPrediction({
        probability,
        threshold: 0.5,
        inferenceDuration: new Duration({ nanos: inferenceMs * 1e6 }),
      }),
    },
  });

/** One spoken turn as agents-js reports it to a console, fed to a tracker; returns its line. */
function spokenTurn(tracker: TurnPartsTracker, log: LatencyLog, prediction?: [number, number]) {
  assertEquals(tracker.push(userStoppedSpeaking(END + 550)), undefined);
  if (prediction) assertEquals(tracker.push(eot(...prediction)), undefined);
  const user = message(pb.ChatRole.USER, {
    stoppedSpeakingAt: at(END),
    transcriptionDelay: 0.34,
    endOfTurnDelay: 0.52,
  });
  assertEquals(tracker.push(user), undefined, "the turn completes only with its reply");
  const reply = message(pb.ChatRole.ASSISTANT, {
    llmNodeTtft: 0.2,
    ttsNodeTtfb: 0.1,
    e2eLatency: 0.81,
  });
  const parts = tracker.push(reply);
  const item = reply.event.value as pb.AgentSessionEvent_ConversationItemAdded;
  const msg = item.item!.item.value as pb.ChatMessage;
  return { parts, line: formatLatency(log.reply(msg.metrics, parts)) };
}

Deno.test("console turn parts: a spoken turn shows where its wait went, and what decided it", () => {
  const { parts, line } = spokenTurn(new TurnPartsTracker("default"), new LatencyLog(), [0.95, 20]);
  assertEquals(parts?.decidedBy, "model");
  assertEquals(parts?.vadEndOfSpeechMs, 550);
  assertEquals(
    line,
    "vad 550ms · stt 340ms · turn 520ms by the end-of-turn model (0.95 ≥ 0.50) · " +
      "llm_ttft 200ms · tts_ttfb 100ms · e2e 810ms",
  );
});

Deno.test("console turn parts: no prediction, or one answered in 0 ms, is no model", () => {
  const none = spokenTurn(new TurnPartsTracker("default"), new LatencyLog());
  assertEquals(none.parts?.decidedBy, "no_model");
  assertMatch(none.line!, /turn 520ms by endpointing \(no end-of-turn model answered\)/);
  const instant = spokenTurn(new TurnPartsTracker("default"), new LatencyLog(), [1, 0]);
  assertEquals(instant.parts?.decidedBy, "no_model");
});

Deno.test("console turn parts: with VAD or STT endpointing, that is what decided", () => {
  assertEquals(turnDetectionOf(" vad "), "vad");
  assertEquals(turnDetectionOf("stt"), "stt");
  assertEquals(turnDetectionOf(undefined), "default");
  assertEquals(turnDetectionOf("bogus"), "default");
  const { line } = spokenTurn(new TurnPartsTracker(turnDetectionOf("vad")), new LatencyLog());
  assertMatch(line!, /· turn 520ms by VAD endpointing ·/);
});

Deno.test("console turn parts: a typed turn has no parts; the summary gives each part's median", () => {
  const tracker = new TurnPartsTracker("default");
  const log = new LatencyLog();
  assertEquals(tracker.push(message(pb.ChatRole.USER, {})), undefined);
  assertEquals(tracker.push(message(pb.ChatRole.ASSISTANT, { llmNodeTtft: 0.3 })), undefined);
  spokenTurn(tracker, log, [0.95, 20]);
  spokenTurn(tracker, log, [0.95, 20]);
  assertMatch(
    log.summary()!,
    /^median of 2 replies: vad 550ms · stt 340ms · turn 520ms · llm_ttft/,
  );
});
