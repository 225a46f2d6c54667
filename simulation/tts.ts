/**
 * The simulated TTS: websocket `/v1/tts` as `inference.TTS` speaks it. Each
 * `input_transcript` is synthesized in the simulation's voice (`voice.ts`) and streamed as
 * base64 `output_audio` chunks; `session.flush` ends a synthesis with `done`. Faults:
 * `TtsFault` (`events.ts`).
 *
 * @module
 */
import {
  bytesToBase64,
  type Endpoint,
  int16ToLeBytes,
  type Json,
  parseMessage,
  sendJson,
  sleep,
} from "./endpoint.ts";
import { synthesizeVoice, ttsDurationMs } from "./voice.ts";

/** Serves one TTS websocket; `chunkMs` is the length of each `output_audio`. */
export function serveTts(
  req: Request,
  url: URL,
  ep: Endpoint,
  chunkMs = 40,
): Response {
  const model = url.searchParams.get("model") ?? "unknown";
  const up = ep.upgrade(req);
  if (up instanceof Response) return up;
  const { socket } = up;
  const sessionId = `tts_standin_${ep.nextId()}`;
  const connAbort = new AbortController();
  const onLifetimeAbort = () => connAbort.abort();
  ep.lifetime.addEventListener("abort", onLifetimeAbort, { once: true });
  let sampleRate = 16000;
  // One synthesis = the input_transcripts between two session.flush messages.
  let synth = { texts: [] as string[], bytes: 0, started: false, silenced: false };
  // Serialize work so audio goes out in transcript order and `done` after all of it.
  let work: Promise<void> = Promise.resolve();
  const enqueue = (job: () => Promise<void>) => {
    work = work.then(job).catch((err) => {
      ep.emit({ kind: "error", where: "tts", message: String(err) });
    });
  };

  // `s` is the synthesis the transcript belonged to when it arrived: the job may
  // run after a flush started the next one, which must not inherit its state.
  const speak = async (text: string, s: typeof synth) => {
    if (s.silenced || connAbort.signal.aborted) return;
    const fault = ep.faults.tts;
    if (fault === "never_answer") {
      s.silenced = true;
      ep.fired("tts", fault, sessionId);
      return;
    }
    if (fault === "error") {
      s.silenced = true;
      ep.fired("tts", fault, sessionId);
      sendJson(socket, {
        type: "error",
        message: "stand-in: injected TTS error",
        session_id: sessionId,
      });
      return;
    }
    if (!s.started) {
      s.started = true;
      if (
        ep.latency.ttsFirstAudioMs > 0 &&
        !await sleep(ep.latency.ttsFirstAudioMs, connAbort.signal)
      ) {
        return;
      }
    }
    const bytes = int16ToLeBytes(synthesizeVoice(text, sampleRate));
    const chunkBytes = Math.max(2, Math.round(sampleRate * chunkMs / 1000) * 2);
    const dropAt = fault === "drop_mid_audio"
      ? Math.floor(bytes.length / 2 / chunkBytes) * chunkBytes
      : -1;
    for (let off = 0; off < bytes.length; off += chunkBytes) {
      if (off === dropAt) {
        ep.fired("tts", "drop_mid_audio", `${sessionId} after ${off} bytes`);
        s.silenced = true;
        socket.close(1011, "stand-in: injected TTS drop");
        return;
      }
      const piece = bytes.subarray(off, Math.min(off + chunkBytes, bytes.length));
      if (
        !sendJson(socket, {
          type: "output_audio",
          audio: bytesToBase64(piece),
          session_id: sessionId,
        })
      ) {
        return; // client went away (interruption terminates the socket)
      }
      s.bytes += piece.length;
      // Yield so closes and new messages are seen between chunks.
      if (!await sleep(0, connAbort.signal)) return;
    }
  };

  const flush = () => {
    const s = synth;
    synth = { texts: [], bytes: 0, started: false, silenced: false };
    enqueue(() => {
      if (s.silenced || connAbort.signal.aborted) return Promise.resolve();
      ep.emit({
        kind: "tts_audio",
        sessionId,
        texts: s.texts,
        bytes: s.bytes,
        durationMs: (s.bytes / 2 / sampleRate) * 1000,
        firstAudioLatencyMs: s.texts.length > 0 ? ep.latency.ttsFirstAudioMs : 0,
      });
      sendJson(socket, { type: "done", session_id: sessionId });
      return Promise.resolve();
    });
  };

  socket.addEventListener("close", () => {
    connAbort.abort();
    ep.lifetime.removeEventListener("abort", onLifetimeAbort);
    ep.emit({ kind: "tts_closed", sessionId });
  });
  socket.addEventListener("message", (ev) => {
    const msg: Json = parseMessage(ev.data);
    if (msg === undefined) {
      ep.emit({ kind: "error", where: "tts", message: "non-JSON message" });
      return;
    }
    switch (msg?.type) {
      case "session.create": {
        sampleRate = Number(msg.sample_rate) || 16000;
        ep.emit({
          kind: "tts_session",
          sessionId,
          model: typeof msg.model === "string" ? msg.model : model,
          voice: typeof msg.voice === "string" ? msg.voice : undefined,
          sampleRate,
        });
        if (ep.faults.tts === "never_answer") {
          synth.silenced = true;
          ep.fired("tts", "never_answer", sessionId);
          break;
        }
        sendJson(socket, { type: "session.created", session_id: sessionId });
        break;
      }
      case "input_transcript": {
        const text = String(msg.transcript ?? "").trim();
        if (!text) break;
        synth.texts.push(text);
        ep.emit({ kind: "tts_transcript", sessionId, text });
        const current = synth;
        enqueue(() => speak(text, current));
        break;
      }
      case "session.flush":
        flush();
        break;
      case "session.close":
        sendJson(socket, { type: "session.closed", session_id: sessionId });
        socket.close(1000, "session closed");
        break;
      default:
        break;
    }
  });
  return up.response;
}

/** Duration in ms of the audio for a whole synthesis (sum over its sentences). */
export function ttsSynthesisMs(texts: string[]): number {
  return texts.reduce((n, t) => n + ttsDurationMs(t), 0);
}
