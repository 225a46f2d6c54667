/**
 * The simulation's end-of-turn model: the cloud turn detector's websocket (`/v1/eot`), as
 * `inference.TurnDetector` (`turn-detector-v1`, agents-js 1.9.0 `CloudTransport`) speaks it.
 *
 * Wire: one binary protobuf per frame, `livekit.agent.ClientMessage` in
 * (`session_create`, `input_audio`, `inference_start{request_id}`, `inference_stop`,
 * `session_flush`, `session_close`) and `livekit.agent.ServerMessage` out (`session_created` with
 * the default thresholds, then one `eot_prediction` per `inference_start`, tagged with its
 * `request_id`). agents-js asks for a prediction once the user has been silent for 200 ms and
 * ends the turn after the minimum delay when the probability is at least the threshold, after
 * the maximum delay otherwise.
 *
 * The simulated model answers a fixed probability (default 0.95: "the user finished") after a
 * fixed latency (default 20 ms), both configurable, so a test or the benchmark knows exactly what the model did
 * and how long it took.
 *
 * @module
 */
import { Duration, Timestamp } from "@bufbuild/protobuf";
import { AgentInference } from "@livekit/protocol";
import { type Endpoint, jsonResponse } from "./endpoint.ts";

/** Options of the simulated turn detector. */
export interface EotOptions {
  /** Probability answered to each request (default {@link DEFAULT_EOT_PROBABILITY}). */
  probability?: number;
  /** Time the model takes per prediction, ms (default {@link DEFAULT_EOT_LATENCY_MS}). */
  latencyMs?: number;
  /** The threshold the session is told to apply (default {@link DEFAULT_EOT_THRESHOLD}). */
  threshold?: number;
}

/** Default answer: the user finished the turn. */
export const DEFAULT_EOT_PROBABILITY = 0.95;
/** Default time the model takes: a model answer always takes some (0 marks "no model"). */
export const DEFAULT_EOT_LATENCY_MS = 20;
/** Default threshold sent in `session_created`, for every language. */
export const DEFAULT_EOT_THRESHOLD = 0.5;

/**
 * Faults of `/eot`:
 * - `"not_found"`: the upgrade is answered 404 (what the simulation did before it served a model);
 * - `"refuse"`: 503 (the plugin gives up on the cloud at once: its errors are non-retryable);
 * - `"error"`: the session opens, then the first request gets an `error` message;
 * - `"never_answer"`: the session opens and requests are never answered (agents-js gives up on
 *   a prediction after 1 s);
 * - `"drop"`: the socket is closed (1011) at the first request.
 */
export type EotFault = "not_found" | "refuse" | "error" | "never_answer" | "drop";

/** Events the simulated turn detector logs (the gateway adds the timestamp). */
export type EotEvent =
  | { kind: "eot_session"; sessionId: string; sampleRate: number }
  | { kind: "eot_request"; sessionId: string; requestId: string; audioMs: number }
  | { kind: "eot_prediction"; sessionId: string; requestId: string; probability: number }
  | { kind: "eot_closed"; sessionId: string };

/** What the gateway hands the turn detector for one socket. */
export interface EotContext {
  sessionId: string;
  options: EotOptions;
  /** The live fault switch. */
  fault: () => EotFault | undefined;
  /** Reports that a fault fired (the gateway logs it and clears it when `once`). */
  fired: (fault: EotFault, detail?: string) => void;
  emit: (e: EotEvent) => void;
  /** Aborted when the gateway closes. */
  lifetime: AbortSignal;
}

function timestamp(ms: number): Timestamp {
  return new Timestamp({
    seconds: BigInt(Math.floor(ms / 1000)),
    nanos: Math.floor((ms % 1000) * 1e6),
  });
}

function duration(ms: number): Duration {
  return new Duration({
    seconds: BigInt(Math.floor(ms / 1000)),
    nanos: Math.floor((ms % 1000) * 1e6),
  });
}

/** Serves one `/eot` websocket until it closes. */
export function serveEot(socket: WebSocket, ctx: EotContext): void {
  socket.binaryType = "arraybuffer";
  const probability = ctx.options.probability ?? DEFAULT_EOT_PROBABILITY;
  const latencyMs = ctx.options.latencyMs ?? DEFAULT_EOT_LATENCY_MS;
  const threshold = ctx.options.threshold ?? DEFAULT_EOT_THRESHOLD;
  let sampleRate = 16000;
  let samples = 0;
  let latestAudioAt: Timestamp | undefined;
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  const clearTimers = () => {
    for (const t of timers.values()) clearTimeout(t);
    timers.clear();
  };
  ctx.lifetime.addEventListener("abort", clearTimers, { once: true });

  const send = (msg: InstanceType<typeof AgentInference.ServerMessage>) => {
    if (socket.readyState !== WebSocket.OPEN) return;
    msg.serverCreatedAt = timestamp(Date.now());
    socket.send(msg.toBinary());
  };

  const predict = (requestId: string, clientCreatedAt?: Timestamp) => {
    ctx.emit({
      kind: "eot_request",
      sessionId: ctx.sessionId,
      requestId,
      audioMs: Math.round(samples / sampleRate * 1000),
    });
    const fault = ctx.fault();
    if (fault === "never_answer") {
      ctx.fired(fault, requestId);
      return;
    }
    if (fault === "drop") {
      ctx.fired(fault, requestId);
      socket.close(1011, "simulation: injected turn detector drop");
      return;
    }
    if (fault === "error") {
      ctx.fired(fault, requestId);
      send(
        new AgentInference.ServerMessage({
          requestId,
          message: {
            case: "error",
            value: new AgentInference.InferenceError({
              message: "simulation: injected turn detector error",
              code: 500,
            }),
          },
        }),
      );
      return;
    }
    const answer = () => {
      timers.delete(requestId);
      ctx.emit({ kind: "eot_prediction", sessionId: ctx.sessionId, requestId, probability });
      send(
        new AgentInference.ServerMessage({
          requestId,
          clientCreatedAt,
          message: {
            case: "eotPrediction",
            value: new AgentInference.EotPrediction({
              probability,
              inferenceStats: new AgentInference.InferenceStats({
                latestClientCreatedAt: latestAudioAt,
                serverE2eLatency: duration(latencyMs),
                inferenceDuration: duration(latencyMs),
              }),
            }),
          },
        }),
      );
    };
    if (latencyMs > 0) timers.set(requestId, setTimeout(answer, latencyMs));
    else answer();
  };

  socket.addEventListener("message", (ev) => {
    if (!(ev.data instanceof ArrayBuffer)) return;
    let msg: InstanceType<typeof AgentInference.ClientMessage>;
    try {
      msg = AgentInference.ClientMessage.fromBinary(new Uint8Array(ev.data));
    } catch {
      return;
    }
    const m = msg.message;
    switch (m.case) {
      case "sessionCreate":
        sampleRate = m.value.settings?.sampleRate || 16000;
        ctx.emit({ kind: "eot_session", sessionId: ctx.sessionId, sampleRate });
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
      case "inputAudio":
        samples += m.value.numSamples;
        latestAudioAt = m.value.createdAt;
        break;
      case "inferenceStart":
        predict(m.value.requestId, msg.createdAt);
        break;
      case "inferenceStop": {
        const t = timers.get(m.value.requestId);
        if (t !== undefined) clearTimeout(t);
        timers.delete(m.value.requestId);
        break;
      }
      case "sessionFlush":
        samples = 0;
        break;
      case "sessionClose":
        send(
          new AgentInference.ServerMessage({
            message: { case: "sessionClosed", value: new AgentInference.SessionClosed() },
          }),
        );
        socket.close(1000, "session closed");
        break;
      default:
        break;
    }
  });
  socket.addEventListener("close", () => {
    clearTimers();
    ctx.lifetime.removeEventListener("abort", clearTimers);
    ctx.emit({ kind: "eot_closed", sessionId: ctx.sessionId });
  });
}

/**
 * The line `console --offline` shows under its banner: which turn detection the session runs
 * against the simulation (`mode` is the agent's `TURN_DETECTION`; unset is `default`).
 */
export function offlineTurnDetection(mode: string | undefined): string {
  switch (mode?.trim() || "default") {
    case "vad":
      return "turn detection: VAD endpointing (TURN_DETECTION=vad), no end-of-turn model";
    case "stt":
      return "turn detection: STT endpointing (TURN_DETECTION=stt), no end-of-turn model";
    default:
      return `turn detection: the simulation's end-of-turn model (answers "finished" in ${DEFAULT_EOT_LATENCY_MS} ms; TURN_DETECTION=vad or stt to use endpointing)`;
  }
}

/** Answers `/v1/eot`: a {@link EotFault} refusal, or an upgraded socket served by {@link serveEot}. */
export function serveEotRoute(req: Request, ep: Endpoint, options: EotOptions): Response {
  const fault = ep.faults.eot;
  if (fault === "not_found" || fault === "refuse") {
    ep.fired("eot", fault);
    return jsonResponse(fault === "refuse" ? 503 : 404, {
      error: { message: `simulation: injected turn detector ${fault}` },
    });
  }
  const up = ep.upgrade(req);
  if (up instanceof Response) return up;
  serveEot(up.socket, {
    sessionId: `eot_sim_${ep.nextId()}`,
    options: options,
    fault: () => ep.faults.eot,
    fired: (f, detail) => ep.fired("eot", f, detail),
    emit: (e) => ep.emit(e),
    lifetime: ep.lifetime,
  });
  return up.response;
}
