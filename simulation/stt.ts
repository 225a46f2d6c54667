/**
 * The simulated STT: websocket `/v1/stt` as `inference.STT` speaks it. An energy detector
 * finds utterances in the 16-bit PCM the client sends (base64 `input_audio`); each one's
 * transcript comes from the {@link TranscriptSource}: the phrase said at that pitch, else the next
 * queued transcript, else the default rotation. Faults: `SttFault` (`events.ts`).
 *
 * @module
 */
import {
  base64ToInt16,
  type Endpoint,
  type Json,
  jsonResponse,
  parseMessage,
  sendJson,
} from "./endpoint.ts";
import {
  Phrasebook,
  SpeechDetector,
  type SpeechDetectorEvent,
  type SpeechDetectorOptions,
} from "./voice.ts";

/** Default rotation of transcripts once the queue is empty. */
export const DEFAULT_STT_TRANSCRIPTS: readonly string[] = [
  "Hello there!",
  "What can you do?",
  "Okay, thanks. Goodbye!",
];

/** Where each detected utterance's transcript comes from; one per gateway, shared by its sockets. */
export class TranscriptSource {
  #phrases?: readonly string[];
  #speech?: SpeechDetectorOptions;
  #queue: string[];
  #defaults: readonly string[];
  #defaultIndex = 0;
  #phrasebooks = new Map<number, Phrasebook>();

  /** Phrases recognized by pitch, queued transcripts, then the default rotation. */
  constructor(options: {
    phrases?: readonly string[];
    queued?: readonly string[];
    defaults?: readonly string[];
    speech?: SpeechDetectorOptions;
  }) {
    this.#phrases = options.phrases;
    this.#speech = options.speech;
    this.#queue = [...(options.queued ?? [])];
    this.#defaults = options.defaults ?? DEFAULT_STT_TRANSCRIPTS;
  }

  /** Appends a transcript for the next utterance no phrase matches. */
  queue(text: string): void {
    this.#queue.push(text);
  }

  /** The transcript of an utterance of `lengthS` seconds said at `pitchHz`. */
  next(lengthS: number, pitchHz: number, sampleRate: number): string {
    const phrases = this.#phrases;
    if (phrases && phrases.length > 0) {
      let book = this.#phrasebooks.get(sampleRate);
      if (!book) {
        book = new Phrasebook(phrases, sampleRate, this.#speech);
        this.#phrasebooks.set(sampleRate, book);
      }
      const phrase = book.match(lengthS, pitchHz);
      if (phrase !== undefined) return phrase;
    }
    const queued = this.#queue.shift();
    if (queued !== undefined) return queued;
    if (this.#defaults.length === 0) return "";
    const t = this.#defaults[this.#defaultIndex % this.#defaults.length];
    this.#defaultIndex++;
    return t;
  }
}

/** Serves one STT websocket (see the module doc). */
export function serveStt(
  req: Request,
  url: URL,
  ep: Endpoint,
  transcripts: TranscriptSource,
  speech?: SpeechDetectorOptions,
): Response {
  const model = url.searchParams.get("model") ?? "auto";
  if (ep.faults.stt === "refuse") {
    ep.fired("stt", "refuse", model);
    return jsonResponse(503, { error: { message: "stand-in: injected STT refusal" } });
  }
  const up = ep.upgrade(req);
  if (up instanceof Response) return up;
  const { socket } = up;
  const sessionId = `stt_standin_${ep.nextId()}`;
  let detector: SpeechDetector | undefined;
  let sampleRate = 16000;
  let language: string | undefined;
  let audioSamples = 0;
  let dropTimer: ReturnType<typeof setTimeout> | undefined;
  // Speechmatics RT models are the only ones for which the plugin sends session.finalize per
  // local-VAD end of speech while input continues; for all others it means "input ended".
  const finalizeEndsInput =
    !(model.startsWith("speechmatics/") && model !== "speechmatics/linden-1");

  const armDrop = () => {
    if (dropTimer !== undefined || ep.faults.stt !== "drop") return;
    if (ep.lifetime.aborted) return;
    const after = ep.faults.sttDropAfterMs ?? 500;
    dropTimer = setTimeout(() => {
      if (socket.readyState !== WebSocket.OPEN) return;
      ep.fired("stt", "drop", `${sessionId} after ${after} ms`);
      socket.close(1011, "stand-in: injected STT drop");
    }, after);
  };
  const emitFinal = (ev: Extract<SpeechDetectorEvent, { type: "end" }>) => {
    const durationS = Math.max(0, ev.endS - ev.startS);
    const text = transcripts.next(durationS, ev.pitchHz, sampleRate);
    const words = text.split(/\s+/).filter(Boolean);
    const per = words.length > 0 ? durationS / words.length : 0;
    ep.emit({ kind: "stt_final", sessionId, text, startS: ev.startS, durationS });
    sendJson(socket, {
      type: "final_transcript",
      session_id: sessionId,
      transcript: text,
      language: language ?? "en",
      start: ev.startS,
      duration: durationS,
      confidence: 0.98,
      words: words.map((word, i) => ({
        word,
        start: ev.startS + i * per,
        end: ev.startS + (i + 1) * per,
        confidence: 0.98,
      })),
    });
  };

  // A drop timer must not outlive the gateway even if this socket's close event comes late.
  const clearDrop = () => {
    if (dropTimer !== undefined) clearTimeout(dropTimer);
  };
  ep.lifetime.addEventListener("abort", clearDrop, { once: true });
  socket.addEventListener("close", () => {
    clearDrop();
    ep.lifetime.removeEventListener("abort", clearDrop);
    ep.emit({
      kind: "stt_closed",
      sessionId,
      audioMs: Math.round(audioSamples / sampleRate * 1000),
    });
  });
  socket.addEventListener("message", (ev) => {
    const msg: Json = parseMessage(ev.data);
    if (msg === undefined) {
      ep.emit({ kind: "error", where: "stt", message: "non-JSON message" });
      return;
    }
    switch (msg?.type) {
      case "session.create": {
        sampleRate = Number(msg.settings?.sample_rate) || 16000;
        language = typeof msg.settings?.language === "string" ? msg.settings.language : undefined;
        detector = new SpeechDetector(sampleRate, speech);
        ep.emit({ kind: "stt_session", sessionId, model, sampleRate, language });
        sendJson(socket, { type: "session.created", session_id: sessionId });
        armDrop();
        break;
      }
      case "input_audio": {
        armDrop();
        if (typeof msg.audio !== "string") return;
        detector ??= new SpeechDetector(sampleRate, speech);
        const pcm = base64ToInt16(msg.audio);
        audioSamples += pcm.length;
        for (const e of detector.push(pcm)) {
          if (e.type === "start") {
            ep.emit({ kind: "stt_speech_start", sessionId, startS: e.startS });
            sendJson(socket, { type: "start_of_speech", session_id: sessionId });
          } else {
            emitFinal(e);
          }
        }
        break;
      }
      case "session.finalize": {
        const e = detector?.flush();
        if (e && e.type === "end") emitFinal(e);
        ep.emit({ kind: "stt_finalize", sessionId });
        sendJson(socket, { type: "session.finalized", session_id: sessionId });
        // Tells the plugin it may stop waiting (it otherwise waits 3 s / 30 s for transcripts).
        if (finalizeEndsInput) {
          sendJson(socket, { type: "session.closed", session_id: sessionId });
        }
        break;
      }
      case "session.close":
        sendJson(socket, { type: "session.closed", session_id: sessionId });
        socket.close(1000, "session closed");
        break;
      default:
        // session.update and anything new: accepted and ignored, like a lenient gateway.
        break;
    }
  });
  return up.response;
}
