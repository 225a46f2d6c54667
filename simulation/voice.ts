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
 * Length is exactly {@link ttsSampleCount}. `baseF0` is the voice's pitch (the agent's is 150 Hz;
 * a caller says each phrase of a phrasebook at its own, see {@link phrasePitches}).
 */
export function synthesizeVoice(text: string, sampleRate: number, baseF0 = 150): Int16Array {
  const total = ttsSampleCount(text, sampleRate);
  const out = new Int16Array(total);
  if (total === 0) return out;
  const words = text.trim().split(/\s+/);
  const weights = words.map((w) => w.length + 1);
  const weightSum = weights.reduce((a, b) => a + b, 0);
  const question = text.trim().endsWith("?");
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
  | {
    type: "end";
    startS: number;
    endS: number;
    /** Median pitch of the utterance's voiced blocks, in Hz (0 when none was voiced). */
    pitchHz: number;
  };

/**
 * Pitch of a 20 ms window in Hz by normalized autocorrelation over 80-500 Hz, on a copy
 * decimated to about 8 kHz (enough for a voice's fundamental, and cheap); 0 when unvoiced.
 */
export function blockPitch(window: readonly number[], sampleRate: number): number {
  const step = Math.max(1, Math.floor(sampleRate / 8000));
  const rate = sampleRate / step;
  const x: number[] = [];
  for (let i = 0; i + step <= window.length; i += step) {
    let v = 0;
    for (let k = 0; k < step; k++) v += window[i + k];
    x.push(v / step);
  }
  const minLag = Math.floor(rate / 500);
  const maxLag = Math.ceil(rate / 80);
  const n = x.length - maxLag - 1;
  if (n <= minLag) return 0;
  const corr = (lag: number) => {
    let dot = 0, a = 0, b = 0;
    for (let i = 0; i < n; i++) {
      dot += x[i] * x[i + lag];
      a += x[i] * x[i];
      b += x[i + lag] * x[i + lag];
    }
    return dot / Math.sqrt(a * b || 1);
  };
  let bestLag = 0, bestR = 0.5; // below: unvoiced
  const r: number[] = [];
  for (let lag = minLag; lag <= maxLag + 1; lag++) r[lag] = corr(lag);
  for (let lag = minLag + 1; lag <= maxLag; lag++) {
    // The first strong peak, not the highest: a multiple of the period correlates as well.
    if (r[lag] > bestR && r[lag] >= r[lag - 1] && r[lag] >= r[lag + 1]) {
      bestR = r[lag];
      bestLag = lag;
      if (bestR > 0.8) break;
    }
  }
  if (!bestLag) return 0;
  const a = r[bestLag - 1], c = r[bestLag + 1], denom = a - 2 * bestR + c;
  const shift = denom === 0 ? 0 : Math.max(-0.5, Math.min(0.5, 0.5 * (a - c) / denom));
  return rate / (bestLag + shift);
}

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
  #pitches: number[] = [];
  #previous: number[] = [];

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
    const ev = this.#end();
    this.#reset();
    return wasSpeech ? ev : undefined;
  }

  #end(): SpeechDetectorEvent {
    const pitches = this.#pitches.sort((a, b) => a - b);
    return {
      type: "end",
      startS: this.#startSample / this.#sampleRate,
      endS: this.#lastVoicedEnd / this.#sampleRate,
      pitchHz: pitches.length ? pitches[pitches.length >> 1] : 0,
    };
  }

  #reset() {
    this.#state = "idle";
    this.#voicedMs = 0;
    this.#silenceMs = 0;
    this.#pitches = [];
  }

  #block(block: number[], events: SpeechDetectorEvent[]) {
    const previous = this.#previous;
    this.#previous = block;
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
      const f0 = blockPitch([...previous, ...block], this.#sampleRate);
      if (f0 > 0) this.#pitches.push(f0);
      if (this.#state === "candidate" && this.#voicedMs >= this.#minSpeechMs) {
        this.#state = "speech";
        events.push({ type: "start", startS: this.#startSample / this.#sampleRate });
      }
      return;
    }
    if (this.#state === "idle") return;
    this.#silenceMs += blockMs;
    if (this.#silenceMs < this.#endSilenceMs) return;
    if (this.#state === "speech") events.push(this.#end());
    this.#reset();
  }
}

/** The pitch of a phrasebook's first phrase, in Hz; each next one is {@link PHRASE_PITCH_STEP} higher. */
export const PHRASE_PITCH_BASE = 110;
/** Ratio between the pitches of two consecutive phrases of a phrasebook. */
export const PHRASE_PITCH_STEP = 1.35;
/** Most phrases a phrasebook holds (the last one is said at about 366 Hz). */
export const MAX_PHRASES = 5;

/**
 * The pitch each phrase of a phrasebook is said at, in order: {@link PHRASE_PITCH_BASE} times
 * {@link PHRASE_PITCH_STEP} to the phrase's index. Pitch names a phrase where length cannot:
 * the receiver's jitter buffer keeps pitch when it stretches or squeezes audio to catch up with
 * late packets, which on a loaded machine changes an utterance's length by tens of percent.
 */
export function phrasePitches(phrases: readonly string[]): Map<string, number> {
  if (phrases.length > MAX_PHRASES) {
    throw new Error(`phrasebook: at most ${MAX_PHRASES} phrases (there are ${phrases.length})`);
  }
  if (new Set(phrases).size !== phrases.length) throw new Error("phrasebook: a phrase is repeated");
  return new Map(phrases.map((p, i) => [p, PHRASE_PITCH_BASE * PHRASE_PITCH_STEP ** i]));
}

/** `text` in the synthetic voice at `pitchHz`: how a caller says a phrase of a phrasebook. */
export function phraseVoice(text: string, sampleRate: number, pitchHz: number): Int16Array {
  return synthesizeVoice(text, sampleRate, pitchHz);
}

/**
 * Recognizes the phrases of a phrasebook said with {@link phraseVoice} at their
 * {@link phrasePitches}: by the utterance's pitch, with its length as a sanity check (a fragment of a phrase, cut by a
 * pause, is not the phrase). So a caller that says a phrasebook phrase is "heard" saying exactly
 * that, whichever call it is on.
 */
export class Phrasebook {
  /** How far a measured pitch may be from a phrase's own, as a fraction of it. */
  static readonly PITCH_TOLERANCE = 0.1;
  /** Shortest and longest an utterance may be, as a fraction of the phrase's own length. */
  static readonly LENGTH_RANGE = [0.5, 2] as const;
  readonly #phrases: { text: string; pitchHz: number; lengthS: number }[];

  /** Measures every phrase at `sampleRate` (see {@link phrasePitches} for their pitches). */
  constructor(phrases: readonly string[], sampleRate = 16_000, opts: SpeechDetectorOptions = {}) {
    const pitches = phrasePitches(phrases);
    this.#phrases = phrases.map((text) => {
      const heard = measure(
        phraseVoice(text, sampleRate, pitches.get(text)!),
        sampleRate,
        opts,
        text,
      );
      // What the detector measures (the contour and the syllables' jitter move the median a
      // little off the nominal pitch), so the match compares like with like.
      return { text, pitchHz: heard.pitchHz, lengthS: heard.lengthS };
    });
  }

  /** The phrase said at `pitchHz` whose length fits `lengthS`, if any. */
  match(lengthS: number, pitchHz: number): string | undefined {
    const [short, long] = Phrasebook.LENGTH_RANGE;
    let best: { text: string; off: number } | undefined;
    for (const p of this.#phrases) {
      const off = Math.abs(p.pitchHz - pitchHz) / p.pitchHz;
      if (off > Phrasebook.PITCH_TOLERANCE) continue;
      if (lengthS < p.lengthS * short || lengthS > p.lengthS * long) continue;
      if (!best || off < best.off) best = { text: p.text, off };
    }
    return best?.text;
  }
}

function measure(
  pcm: Int16Array,
  sampleRate: number,
  opts: SpeechDetectorOptions,
  text: string,
): { lengthS: number; pitchHz: number } {
  const detector = new SpeechDetector(sampleRate, opts);
  const tail = new Int16Array(sampleRate * 2); // silence ends the utterance
  for (const e of [...detector.push(pcm), ...detector.push(tail)]) {
    if (e.type === "end") return { lengthS: e.endS - e.startS, pitchHz: e.pitchHz };
  }
  throw new Error(`phrasebook: "${text}" is not long enough to be heard as speech`);
}
