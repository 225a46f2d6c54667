/**
 * The stand-in's synthetic "voice" (TTS side) and speech detector (STT side).
 *
 * Both are deterministic so tests can assert on them: the voice's length is a pure function of
 * the text ({@link ttsDurationMs}) and the detector turns a known PCM burst into exactly one
 * utterance.
 *
 * @module
 */

/** Milliseconds of synthetic speech per character of (trimmed) text. */
export const TTS_MS_PER_CHAR = 60;
/** Shortest synthetic utterance for non-empty text, in milliseconds. */
export const TTS_MIN_MS = 300;

/**
 * Duration of the audio the stand-in TTS sends for one `input_transcript`:
 * `max(300, 60 * trimmedText.length)` ms, or 0 for whitespace-only text.
 * The plugin appends a space to every sentence it sends; trimming makes the duration a function
 * of what the agent said, not of that framing.
 */
export function ttsDurationMs(text: string): number {
  const t = text.trim();
  if (t.length === 0) return 0;
  return Math.max(TTS_MIN_MS, TTS_MS_PER_CHAR * t.length);
}

/** Number of samples {@link synthesizeVoice} produces for `text` at `sampleRate`. */
export function ttsSampleCount(text: string, sampleRate: number): number {
  return Math.round(ttsDurationMs(text) * sampleRate / 1000);
}

function hash(s: string): number {
  // FNV-1a: a stable per-word pitch offset, so the same sentence always sounds the same.
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function syllables(word: string): number {
  const groups = word.toLowerCase().match(/[aeiouy]+/g);
  return Math.max(1, Math.min(4, groups?.length ?? 1));
}

/**
 * Renders `text` as mono s16le PCM at `sampleRate`: one voiced, harmonic "hum" per syllable with
 * an attack/release envelope, a short pause between words and a falling pitch across the sentence
 * (rising for questions). It sounds like murmured speech, which is enough for a newcomer to hear
 * turn-taking and for VAD/energy detectors to classify it as voice.
 * Length is exactly {@link ttsSampleCount}.
 */
export function synthesizeVoice(text: string, sampleRate: number): Int16Array {
  const total = ttsSampleCount(text, sampleRate);
  const out = new Int16Array(total);
  if (total === 0) return out;
  const words = text.trim().split(/\s+/);
  const weights = words.map((w) => w.length + 1);
  const weightSum = weights.reduce((a, b) => a + b, 0);
  const question = text.trim().endsWith("?");
  const baseF0 = 150;
  const harmonics = [1, 0.55, 0.3, 0.18, 0.1];
  const peak = 0.28 * 32767;
  let phase = 0;
  let cursor = 0;
  for (let w = 0; w < words.length; w++) {
    const wordStart = cursor;
    const wordEnd = w === words.length - 1
      ? total
      : Math.round(total * weights.slice(0, w + 1).reduce((a, b) => a + b, 0) / weightSum);
    cursor = wordEnd;
    // The last ~20% of each word slot is a pause, which is what makes it sound like words.
    const voicedEnd = wordStart + Math.round((wordEnd - wordStart) * 0.8);
    const n = syllables(words[w]);
    const h = hash(words[w]);
    for (let s = 0; s < n; s++) {
      const a = wordStart + Math.round((voicedEnd - wordStart) * s / n);
      const b = wordStart + Math.round((voicedEnd - wordStart) * (s + 1) / n);
      const len = Math.max(1, b - a);
      const jitter = (((h >>> (s * 5)) & 0x1f) / 31 - 0.5) * 0.25;
      for (let i = a; i < b; i++) {
        const progress = i / total; // 0..1 across the utterance
        const contour = question
          ? 1 - 0.1 * progress + 0.35 * Math.max(0, progress - 0.8) * 5
          : 1.08 - 0.18 * progress;
        const f0 = baseF0 * contour * (1 + jitter);
        phase += 2 * Math.PI * f0 / sampleRate;
        const x = (i - a) / len;
        const env = x < 0.15 ? x / 0.15 : x > 0.75 ? Math.max(0, (1 - x) / 0.25) : 1;
        let v = 0;
        for (let k = 0; k < harmonics.length; k++) v += harmonics[k] * Math.sin((k + 1) * phase);
        out[i] = Math.round(peak * env * v / 2.13);
      }
    }
  }
  return out;
}

/** Tuning of the stand-in STT's energy-based speech detector. */
export interface SpeechDetectorOptions {
  /** RMS (0..32767 scale) above which a 10 ms block counts as voice. Default 500 (about -36 dBFS). */
  energyThreshold?: number;
  /** Voiced time (ms) a burst needs before it is an utterance rather than a click. Default 200. */
  minSpeechMs?: number;
  /** Trailing silence (ms) that ends an utterance. Default 300. */
  endSilenceMs?: number;
}

/** What the detector reports while audio is pushed through it. */
export type SpeechDetectorEvent =
  | { type: "start"; startS: number }
  | { type: "end"; startS: number; endS: number };

/**
 * Energy speech detector over 10 ms blocks. A burst becomes an utterance ("start") once it has
 * `minSpeechMs` of voiced blocks; it ends ("end") after `endSilenceMs` of silence. Gaps shorter
 * than that stay inside the utterance, so pauses between words do not split it.
 * Times are seconds of audio since the detector was created.
 */
export class SpeechDetector {
  readonly #threshold: number;
  readonly #minSpeechMs: number;
  readonly #endSilenceMs: number;
  readonly #sampleRate: number;
  readonly #blockSamples: number;
  #carry: number[] = [];
  #samplesSeen = 0;
  #state: "idle" | "candidate" | "speech" = "idle";
  #startSample = 0;
  #lastVoicedEnd = 0;
  #voicedMs = 0;
  #silenceMs = 0;

  constructor(sampleRate: number, opts: SpeechDetectorOptions = {}) {
    this.#sampleRate = sampleRate;
    this.#blockSamples = Math.max(1, Math.round(sampleRate / 100));
    this.#threshold = opts.energyThreshold ?? 500;
    this.#minSpeechMs = opts.minSpeechMs ?? 200;
    this.#endSilenceMs = opts.endSilenceMs ?? 300;
  }

  /** True while an utterance has started and not yet ended. */
  get inSpeech(): boolean {
    return this.#state === "speech";
  }

  /** Feeds PCM; returns the events it completes, in order. */
  push(pcm: Int16Array): SpeechDetectorEvent[] {
    const events: SpeechDetectorEvent[] = [];
    let i = 0;
    // Finish a partial block left from the previous push first (input_audio is 50 ms, but the
    // detector does not rely on that).
    while (i < pcm.length) {
      const need = this.#blockSamples - this.#carry.length;
      const take = Math.min(need, pcm.length - i);
      for (let k = 0; k < take; k++) this.#carry.push(pcm[i + k]);
      i += take;
      if (this.#carry.length === this.#blockSamples) {
        this.#block(this.#carry, events);
        this.#carry = [];
      }
    }
    return events;
  }

  /** Ends an utterance in progress at once (for `session.finalize`); undefined when idle. */
  flush(): SpeechDetectorEvent | undefined {
    const wasSpeech = this.#state === "speech";
    const ev: SpeechDetectorEvent = {
      type: "end",
      startS: this.#startSample / this.#sampleRate,
      endS: this.#lastVoicedEnd / this.#sampleRate,
    };
    this.#reset();
    return wasSpeech ? ev : undefined;
  }

  #reset() {
    this.#state = "idle";
    this.#voicedMs = 0;
    this.#silenceMs = 0;
  }

  #block(block: number[], events: SpeechDetectorEvent[]) {
    let sum = 0;
    for (const s of block) sum += s * s;
    const rms = Math.sqrt(sum / block.length);
    const blockStart = this.#samplesSeen;
    this.#samplesSeen += block.length;
    const blockMs = (block.length / this.#sampleRate) * 1000;
    if (rms >= this.#threshold) {
      if (this.#state === "idle") {
        this.#state = "candidate";
        this.#startSample = blockStart;
        this.#voicedMs = 0;
      }
      this.#voicedMs += blockMs;
      this.#silenceMs = 0;
      this.#lastVoicedEnd = this.#samplesSeen;
      if (this.#state === "candidate" && this.#voicedMs >= this.#minSpeechMs) {
        this.#state = "speech";
        events.push({ type: "start", startS: this.#startSample / this.#sampleRate });
      }
      return;
    }
    if (this.#state === "idle") return;
    this.#silenceMs += blockMs;
    if (this.#silenceMs < this.#endSilenceMs) return;
    if (this.#state === "speech") {
      events.push({
        type: "end",
        startS: this.#startSample / this.#sampleRate,
        endS: this.#lastVoicedEnd / this.#sampleRate,
      });
    }
    this.#reset();
  }
}

/**
 * Recognizes phrases of a phrasebook by the length of an utterance: the synthetic voice's length
 * is a function of its text, so a caller that speaks a phrasebook phrase in that voice is
 * "heard" saying exactly that phrase, whichever call it is on. Each phrase's expected length is
 * what this detector itself measures on the phrase's synthetic voice, so the match does not
 * depend on the envelope's silent edges; what the codec and resampling add on the way stays well
 * inside the tolerance.
 */
export class Phrasebook {
  /** How far a measured length may be from a phrase's own, in seconds. */
  static readonly TOLERANCE_S = 0.12;
  readonly #phrases: { text: string; lengthS: number }[];

  /**
   * Measures every phrase at `sampleRate`. Throws when two phrases are too close in length to
   * tell apart (make one longer or shorter by a few characters).
   */
  constructor(phrases: readonly string[], sampleRate = 16_000, opts: SpeechDetectorOptions = {}) {
    this.#phrases = phrases.map((text) => ({ text, lengthS: measure(text, sampleRate, opts) }));
    const sorted = [...this.#phrases].sort((a, b) => a.lengthS - b.lengthS);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i].lengthS - sorted[i - 1].lengthS <= 2 * Phrasebook.TOLERANCE_S) {
        throw new Error(
          `phrasebook: "${sorted[i - 1].text}" and "${sorted[i].text}" are too close in length ` +
            "to be told apart; change one by a few characters",
        );
      }
    }
  }

  /** The phrase whose length is within tolerance of `lengthS`, if any. */
  match(lengthS: number): string | undefined {
    let best: { text: string; off: number } | undefined;
    for (const p of this.#phrases) {
      const off = Math.abs(p.lengthS - lengthS);
      if (off <= Phrasebook.TOLERANCE_S && (!best || off < best.off)) best = { text: p.text, off };
    }
    return best?.text;
  }
}

function measure(text: string, sampleRate: number, opts: SpeechDetectorOptions): number {
  const detector = new SpeechDetector(sampleRate, opts);
  const pcm = synthesizeVoice(text, sampleRate);
  const tail = new Int16Array(sampleRate); // 1 s of silence ends the utterance
  for (const e of [...detector.push(pcm), ...detector.push(tail)]) {
    if (e.type === "end") return e.endS - e.startS;
  }
  throw new Error(`phrasebook: "${text}" is not long enough to be heard as speech`);
}
