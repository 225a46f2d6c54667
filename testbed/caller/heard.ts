/**
 * Did the caller hear a given utterance in full? Compares what the caller recorded with what the
 * simulation synthesized for that text.
 *
 * The simulation's voice is deterministic ({@link synthesizeVoice}), so the expected audio is
 * known sample for sample; on its way to the caller it is resampled and Opus-coded, so the
 * waveform changes but its loudness and pitch per 10 ms do not. The last place where both
 * match the recording is where the caller heard it;
 * "in full" means the match is strong and the recording goes on past the utterance's end, so
 * the end was not cut.
 *
 * @module
 */
import { synthesizeVoice } from "../../simulation/mod.ts";
import { CALLER_SAMPLE_RATE } from "./protocol.ts";

const BLOCK = CALLER_SAMPLE_RATE / 100; // 10 ms

/**
 * Envelope correlation at or above which the expected utterance counts as found. Generous:
 * under CPU load the receiver's jitter buffer conceals late packets and stretches time, which
 * blurs the envelope (0.86 seen for a goodbye heard in full on a machine at load 9); the pitch
 * check is what tells words apart.
 */
export const MATCH_THRESHOLD = 0.75;

/** Where an utterance was heard in a recording. */
export interface HeardMatch {
  /** Pearson correlation of the loudness envelopes at that place (1 = same shape). */
  correlation: number;
  /** Median relative pitch difference there (0 = same pitch). */
  pitchOff: number;
  /**
   * Share of the utterance's voiced 10 ms blocks that were loud in the recording at that place
   * (1 = every syllable arrived; a goodbye cut after its first syllable scores about 0.5).
   */
  coverage: number;
  /** Epoch ms where the utterance's audio starts in the recording. */
  startAt: number;
  /** Epoch ms where it ends (start + its synthesized length). */
  endAt: number;
  /** Milliseconds of recording after the utterance's end (negative: the recording stops inside it). */
  recordedAfterMs: number;
  /** Synthesized length of the utterance. */
  expectedMs: number;
}

/** Loudness (RMS) per 10 ms block. */
function envelope(samples: Int16Array): Float64Array {
  const n = Math.floor(samples.length / BLOCK);
  const out = new Float64Array(n);
  for (let b = 0; b < n; b++) {
    let sum = 0;
    for (let i = b * BLOCK; i < (b + 1) * BLOCK; i++) sum += samples[i] * samples[i];
    out[b] = Math.sqrt(sum / BLOCK);
  }
  return out;
}

const PITCH_RATE = 8_000;
const PITCH_DECIMATE = CALLER_SAMPLE_RATE / PITCH_RATE;
const PITCH_WINDOW = PITCH_RATE / 50; // 20 ms
const MIN_LAG = PITCH_RATE / 400; // 400 Hz
const MAX_LAG = PITCH_RATE / 80 - 1; // 80 Hz (one lag of headroom for the interpolation)

/**
 * Pitch (Hz) per 10 ms block by autocorrelation on an 8 kHz copy, 0 where the block is quiet
 * or unvoiced. Loudness alone cannot tell one syllable from another; the synthetic voice gives
 * every word its own pitch, and the codec keeps pitch.
 */
function pitch(samples: Int16Array, env: Float64Array): Float64Array {
  const low = new Float64Array(Math.floor(samples.length / PITCH_DECIMATE));
  for (let i = 0; i < low.length; i++) {
    let sum = 0;
    for (let k = 0; k < PITCH_DECIMATE; k++) sum += samples[i * PITCH_DECIMATE + k];
    low[i] = sum / PITCH_DECIMATE;
  }
  const hop = PITCH_RATE / 100;
  const out = new Float64Array(env.length);
  for (let b = 0; b < env.length; b++) {
    if (env[b] < 300) continue;
    const start = b * hop;
    if (start + PITCH_WINDOW + MAX_LAG > low.length) break;
    let energy = 0;
    for (let i = 0; i < PITCH_WINDOW; i++) energy += low[start + i] * low[start + i];
    const corr = new Float64Array(MAX_LAG + 2);
    for (let lag = MIN_LAG - 1; lag <= MAX_LAG + 1; lag++) {
      let dot = 0, lagged = 0;
      for (let i = 0; i < PITCH_WINDOW; i++) {
        dot += low[start + i] * low[start + i + lag];
        lagged += low[start + i + lag] * low[start + i + lag];
      }
      corr[lag] = dot / Math.sqrt(energy * lagged || 1);
    }
    let bestLag = 0, bestR = 0.5; // below 0.5 normalized correlation: unvoiced
    for (let lag = MIN_LAG; lag <= MAX_LAG; lag++) {
      if (corr[lag] > bestR) {
        bestR = corr[lag];
        bestLag = lag;
      }
    }
    if (!bestLag) continue;
    // Parabolic interpolation between the neighbouring lags: sub-sample pitch.
    const a = corr[bestLag - 1], c = corr[bestLag + 1], denom = a - 2 * bestR + c;
    const shift = denom === 0 ? 0 : 0.5 * (a - c) / denom;
    out[b] = PITCH_RATE / (bestLag + Math.max(-0.5, Math.min(0.5, shift)));
  }
  return out;
}

/** Median relative pitch difference over the blocks voiced in both (1 when none are). */
function pitchOff(expected: Float64Array, heard: Float64Array, offset: number): number {
  const diffs: number[] = [];
  for (let i = 0; i < expected.length; i++) {
    const a = expected[i], b = heard[offset + i] ?? 0;
    if (a > 0 && b > 0) diffs.push(Math.abs(a - b) / a);
  }
  if (diffs.length === 0) return 1;
  diffs.sort((x, y) => x - y);
  return diffs[Math.floor(diffs.length / 2)];
}

function pearson(a: Float64Array, b: Float64Array, offset: number): number {
  let sa = 0, sb = 0;
  const n = a.length;
  for (let i = 0; i < n; i++) {
    sa += a[i];
    sb += b[offset + i];
  }
  const ma = sa / n, mb = sb / n;
  let cov = 0, va = 0, vb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma, db = b[offset + i] - mb;
    cov += da * db;
    va += da * da;
    vb += db * db;
  }
  return va === 0 || vb === 0 ? 0 : cov / Math.sqrt(va * vb);
}

/** Largest median pitch difference at which the utterance still counts as the same words. */
export const PITCH_TOLERANCE = 0.01;

/**
 * Finds the last place in `recording` (48 kHz mono, first sample at `startAt` epoch ms) where
 * `text`, as the simulation synthesizes it, was heard: loudness envelopes correlate at or above
 * {@link MATCH_THRESHOLD} and the pitch agrees within {@link PITCH_TOLERANCE}. `undefined` when
 * no place does. Only places starting at or after `notBefore` (epoch ms) count.
 */
export function findHeard(
  recording: { startAt: number; samples: Int16Array },
  text: string,
  notBefore = -Infinity,
  tolerance: { correlation?: number; pitch?: number } = {},
): HeardMatch | undefined {
  const minCorrelation = tolerance.correlation ?? MATCH_THRESHOLD;
  const maxPitchOff = tolerance.pitch ?? PITCH_TOLERANCE;
  const voice = synthesizeVoice(text, CALLER_SAMPLE_RATE);
  const expected = envelope(voice);
  const expectedPitch = pitch(voice, expected);
  const heardEnv = envelope(recording.samples);
  const heardPitch = pitch(recording.samples, heardEnv);
  // The match may run past the end of the recording (zeros): a cut ending then scores low.
  const padded = new Float64Array(heardEnv.length + expected.length);
  padded.set(heardEnv);
  const first = Math.max(0, Math.ceil((notBefore - recording.startAt) / 10));
  const last = padded.length - expected.length;
  const matches = (o: number) =>
    pearson(expected, padded, o) >= minCorrelation &&
    pitchOff(expectedPitch, heardPitch, o) <= maxPitchOff;
  // Scan from the end for the last matching offset, then take the best one around it.
  let found = -1;
  for (let o = last; o >= first; o--) {
    if (matches(o)) {
      found = o;
      break;
    }
  }
  if (found < 0) return undefined;
  let best = found;
  for (let o = found - 1; o >= Math.max(first, found - expected.length); o--) {
    if (matches(o) && pearson(expected, padded, o) > pearson(expected, padded, best)) best = o;
  }
  const peak = Math.max(...expected);
  let voiced = 0, arrived = 0;
  for (let i = 0; i < expected.length; i++) {
    if (expected[i] < 0.1 * peak) continue;
    voiced++;
    if (padded[best + i] >= 0.1 * peak) arrived++;
  }
  const startAt = recording.startAt + best * 10;
  const expectedMs = expected.length * 10;
  return {
    correlation: pearson(expected, padded, best),
    pitchOff: pitchOff(expectedPitch, heardPitch, best),
    coverage: voiced === 0 ? 0 : arrived / voiced,
    startAt,
    endAt: startAt + expectedMs,
    recordedAfterMs: recording.startAt + heardEnv.length * 10 - (startAt + expectedMs),
    expectedMs,
  };
}
