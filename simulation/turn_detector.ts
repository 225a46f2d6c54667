/**
 * The gateway's `/eot` websocket: LiveKit Inference's audio end-of-turn detector
 * (`turn-detector-v1`), as both inference plugins speak it (agents-js 1.9.0
 * `inference/eot/transports.ts`, livekit-agents 1.8.9 `inference/eot/transports.py`).
 *
 * Binary frames, one protobuf each: `livekit.agent.ClientMessage` in, `livekit.agent.ServerMessage`
 * out (`AgentInference` in `@livekit/protocol`). The client sends `session_create` (sample rate,
 * pcm_s16le), then `input_audio` while the user speaks, `inference_start{request_id}` when it
 * wants a prediction, `session_flush` at turn boundaries and `session_close` at the end. The
 * server answers `session_created` with its default thresholds (both clients refuse a session
 * without them and fall back to their local model), one `eot_prediction` per
 * `inference_start`, echoing its `request_id` (a client waits about a second for it, then falls
 * back), and `session_closed`.
 *
 * The prediction here is scripted, not inferred: a fixed probability, or a function of the
 * request. The default says "the turn is over" (above the threshold), so a session using the
 * cloud detector commits turns as promptly as one without a detector.
 *
 * @module
 */
import { Duration, Timestamp } from "@bufbuild/protobuf";
import { AgentInference } from "@livekit/protocol";

/** What a scripted prediction can depend on. */
export interface EotRequest {
  /** The client's request id. */
  requestId: string;
  /** 1-based count of predictions asked for on this connection. */
  index: number;
  /**
   * Audio received since the last `session_flush` (or the start), in ms. Both clients send the
   * request on a faster path than the audio (it skips their audio queue), so the last frames
   * before it may still be in flight.
   */
  audioMs: number;
}

/** Options of the simulated `/eot`. */
export interface TurnDetectorOptions {
  /** End-of-turn probability answered to every request, or a function of it. Default 0.95. */
  probability?: number | ((request: EotRequest) => number);
  /** Default threshold announced in `session_created` (for every language). Default 0.5. */
  threshold?: number;
}

/** Default of {@link TurnDetectorOptions.probability}: the turn is over. */
export const DEFAULT_EOT_PROBABILITY = 0.95;
/** Default of {@link TurnDetectorOptions.threshold}. */
export const DEFAULT_EOT_THRESHOLD = 0.5;

/** What the simulated detector reports to the gateway's event log. */
export type TurnDetectorEvent =
  | { kind: "eot_session"; sessionId: string; sampleRate: number }
  | {
    kind: "eot_prediction";
    sessionId: string;
    requestId: string;
    probability: number;
    audioMs: number;
  }
  /** A turn boundary; `audioMs` is the audio of the turn it ends (ordered after that audio). */
  | { kind: "eot_flush"; sessionId: string; audioMs: number }
  | { kind: "eot_closed"; sessionId: string; predictions: number };

function millis(ms: number): Duration {
  return new Duration({
    seconds: BigInt(Math.floor(ms / 1000)),
    nanos: Math.round((ms % 1000) * 1e6),
  });
}

/**
 * Serves one `/eot` connection on an upgraded `socket` (the gateway has checked auth).
 * `emit` receives one {@link TurnDetectorEvent} per session start, prediction and close.
 */
export function serveTurnDetector(
  socket: WebSocket,
  sessionId: string,
  opts: TurnDetectorOptions,
  emit: (e: TurnDetectorEvent) => void,
): void {
  socket.binaryType = "arraybuffer";
  const threshold = opts.threshold ?? DEFAULT_EOT_THRESHOLD;
  let sampleRate = 16000;
  let samples = 0;
  let predictions = 0;
  let closedEmitted = false;

  const send = (msg: AgentInference.ServerMessage) => {
    if (socket.readyState !== WebSocket.OPEN) return;
    msg.serverCreatedAt = Timestamp.now();
    socket.send(msg.toBinary());
  };
  const emitClosed = () => {
    if (closedEmitted) return;
    closedEmitted = true;
    emit({ kind: "eot_closed", sessionId, predictions });
  };

  socket.addEventListener("close", emitClosed);
  socket.addEventListener("message", (ev) => {
    if (!(ev.data instanceof ArrayBuffer)) return; // the protocol is binary only
    let msg: AgentInference.ClientMessage;
    try {
      msg = AgentInference.ClientMessage.fromBinary(new Uint8Array(ev.data));
    } catch {
      send(
        new AgentInference.ServerMessage({
          message: {
            case: "error",
            value: new AgentInference.InferenceError({ message: "malformed message", code: 400 }),
          },
        }),
      );
      return;
    }
    const m = msg.message;
    switch (m.case) {
      case "sessionCreate": {
        sampleRate = m.value.settings?.sampleRate || 16000;
        emit({ kind: "eot_session", sessionId, sampleRate });
        send(
          new AgentInference.ServerMessage({
            clientCreatedAt: msg.createdAt,
            message: {
              case: "sessionCreated",
              value: new AgentInference.SessionCreated({
                defaultThresholds: { en: threshold },
                defaultThreshold: threshold,
              }),
            },
          }),
        );
        break;
      }
      case "inputAudio":
        samples += m.value.numSamples || m.value.audio.length / 2;
        break;
      case "sessionFlush":
        emit({ kind: "eot_flush", sessionId, audioMs: Math.round((samples / sampleRate) * 1000) });
        samples = 0;
        break;
      case "inferenceStart": {
        predictions++;
        const audioMs = Math.round((samples / sampleRate) * 1000);
        const request = { requestId: m.value.requestId, index: predictions, audioMs };
        const p = opts.probability ?? DEFAULT_EOT_PROBABILITY;
        const probability = typeof p === "function" ? p(request) : p;
        emit({
          kind: "eot_prediction",
          sessionId,
          requestId: request.requestId,
          probability,
          audioMs,
        });
        send(
          new AgentInference.ServerMessage({
            requestId: request.requestId,
            clientCreatedAt: msg.createdAt,
            message: {
              case: "eotPrediction",
              value: new AgentInference.EotPrediction({
                probability,
                backend: AgentInference.EotPrediction_EotBackend.MULTIMODAL,
                inferenceStats: new AgentInference.InferenceStats({
                  earliestClientCreatedAt: msg.createdAt,
                  latestClientCreatedAt: msg.createdAt,
                  serverE2eLatency: millis(0),
                  inferenceDuration: millis(0),
                }),
              }),
            },
          }),
        );
        break;
      }
      case "sessionClose":
        send(
          new AgentInference.ServerMessage({
            clientCreatedAt: msg.createdAt,
            message: { case: "sessionClosed", value: new AgentInference.SessionClosed() },
          }),
        );
        emitClosed();
        socket.close(1000, "session closed");
        break;
      default:
        // inference_stop, buffer_start/stop, chat context: accepted, nothing to answer.
        break;
    }
  });
}
