/**
 * Did the caller hear a given utterance in full? Compares what the caller recorded with what the
 * simulation synthesized for that text.
 *
 * The simulation's voice is deterministic ({@link synthesizeVoice}), so the expected audio is
 * known sample for sample; on its way to the caller it is resampled and Opus-coded, so the
 * waveform changes but its loudness and pitch per 10 ms do not. The last place where both
 * match the recording is where the caller heard it;
 * "in full" means the match is strong, its voiced blocks arrived, its last {@link END_MS} of
 * voice arrived where the alignment puts them (a goodbye clipped in its last syllable fails
 * here), and the recording goes on past the utterance's end.
 *
 * @module
 */
import { synthesizeVoice } from "../../../simulation/mod.ts";
import { CALLER_SAMPLE_RATE } from "./protocol.ts";

const BLOCK = CALLER_SAMPLE_RATE / 100; // 10 ms

/**
 * Correlation of the time-warped loudness envelope at or above which the expected utterance counts
 * as found (plain correlation fell to 0.70 for a reply heard in full on a machine at load 9: the
 * jitter buffer had stretched it; warped, it scores above 0.9). The pitch check is what tells
 * words apart.
 */
export const MATCH_THRESHOLD = 0.85;

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
  /**
   * Share of the utterance's last {@link END_MS} of voice that arrived where the alignment puts
   * it (1 = its end was heard; a goodbye clipped by 100 ms scores 0).
   */
  endHeard: number;
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
 * Share of the utterance's voiced blocks that must have arrived for it to count as heard in full.
 * A goodbye cut after its first syllable scores about 0.5; one 10 ms block concealed by the
 * receiver under load costs a two-syllable word about 0.05.
 */
export const FULL_COVERAGE = 0.8;

/**
 * How much of the end of an utterance's voice is checked sample-aligned: the last 10 ms blocks
 * of its voice, which a goodbye cut in its last syllable loses. Coverage alone cannot see that:
 * time-warping lets the blocks before a cut stand in for the ones after it (a goodbye with its
 * last 45 % silenced scored 0.84).
 */
export const END_MS = 50;

/** Share of the end's blocks ({@link END_MS}) that must have arrived (one may be concealed). */
export const END_HEARD = 0.8;

/** A block of the end arrived when the recording there is at least this share of its loudness. */
const END_LEVEL = 0.3;

/**
 * True when `match` is the utterance heard in full: found, not cut (its voiced blocks arrived,
 * and its end where the alignment puts it), and not cut off by the end of the recording.
 */
export function inFull(match: HeardMatch | undefined): boolean {
  return match !== undefined && match.coverage >= FULL_COVERAGE && match.endHeard >= END_HEARD &&
    match.recordedAfterMs >= 0;
}

/**
 * Share of the last {@link END_MS} of `expected`'s voice found in `heard` at `offset`, after a
 * local alignment of the utterance's end: the jitter buffer may have shifted it by up to
 * {@link MAX_STRETCH} of the utterance's length, so the end is placed where its last 200 ms
 * (and the silence after them) correlate best with the recording, the shift nearest 0 on ties.
 */
function endHeard(expected: Float64Array, heard: Float64Array, offset: number): number {
  const peak = Math.max(...expected);
  const voiced: number[] = [];
  for (let i = 0; i < expected.length; i++) if (expected[i] >= 0.1 * peak) voiced.push(i);
  if (voiced.length === 0) return 0;
  const last = voiced[voiced.length - 1];
  const from = Math.max(0, last - 19);
  const window = expected.subarray(from, Math.min(expected.length, last + 6));
  const band = Math.max(3, Math.round(expected.length * MAX_STRETCH));
  let shift = 0, best = -Infinity;
  for (let step = 0; step <= 2 * band; step++) {
    const d = step % 2 === 0 ? step / 2 : -(step + 1) / 2; // 0, -1, 1, -2, 2, ...
    const seen = Float64Array.from(window, (_, k) => heard[offset + from + d + k] ?? 0);
    const r = pearson(window, seen, 0);
    if (r > best) {
      best = r;
      shift = d;
    }
  }
  const end = voiced.slice(-END_MS / 10);
  // Within a block either way: the alignment is to the 10 ms block, the audio is not.
  const near = (j: number) => Math.max(heard[j - 1] ?? 0, heard[j] ?? 0, heard[j + 1] ?? 0);
  return end.filter((i) => near(offset + i + shift) >= END_LEVEL * expected[i]).length /
    end.length;
}

/** How far the receiver may have stretched or squeezed the utterance in time (its jitter buffer). */
export const MAX_STRETCH = 0.1;

/**
 * `heard` from `offset` on, warped onto `expected`'s time axis by dynamic time warping within
 * {@link MAX_STRETCH}: under load the receiver's jitter buffer conceals late packets and speeds
 * up or slows down playout (it keeps pitch), which shifts syllables by tens of ms against the
 * synthesized original. Returns, per expected block, the mean of the heard blocks aligned to it.
 */
function warped(expected: Float64Array, heard: Float64Array, offset: number): Float64Array {
  const n = expected.length;
  const band = Math.max(3, Math.round(n * MAX_STRETCH));
  const from = Math.max(0, offset - band);
  const to = Math.min(heard.length, offset + n + band);
  const m = to - from;
  const z = (xs: ArrayLike<number>) => {
    let mean = 0;
    for (let i = 0; i < xs.length; i++) mean += xs[i];
    mean /= xs.length || 1;
    let sd = 0;
    for (let i = 0; i < xs.length; i++) sd += (xs[i] - mean) ** 2;
    sd = Math.sqrt(sd / (xs.length || 1)) || 1;
    return Float64Array.from(xs, (x) => (x - mean) / sd);
  };
  const a = z(expected);
  const b = z(heard.subarray(from, to));
  const INF = Number.POSITIVE_INFINITY;
  const cost = new Float64Array((n + 1) * (m + 1)).fill(INF);
  const at = (i: number, j: number) => i * (m + 1) + j;
  cost[at(0, 0)] = 0;
  // Block i of the expected audio may align with heard blocks around its place (offset - from + i).
  for (let i = 1; i <= n; i++) {
    const centre = offset - from + i;
    for (let j = Math.max(1, centre - band); j <= Math.min(m, centre + band); j++) {
      const d = (a[i - 1] - b[j - 1]) ** 2;
      cost[at(i, j)] = d +
        Math.min(cost[at(i - 1, j - 1)], cost[at(i - 1, j)], cost[at(i, j - 1)]);
    }
    if (i === 1) {
      // The path may start anywhere in the band (the utterance's start is not known exactly).
      for (let j = Math.max(1, centre - band); j <= Math.min(m, centre + band); j++) {
        cost[at(1, j)] = (a[0] - b[j - 1]) ** 2;
      }
    }
  }
  // End anywhere in the last row's band, then walk back.
  let j = -1;
  let best = INF;
  for (let k = 1; k <= m; k++) {
    if (cost[at(n, k)] < best) {
      best = cost[at(n, k)];
      j = k;
    }
  }
  const sums = new Float64Array(n);
  const counts = new Float64Array(n);
  if (j < 0) return sums; // the band fell outside the recording
  let i = n;
  while (i >= 1 && j >= 1) {
    sums[i - 1] += heard[from + j - 1];
    counts[i - 1]++;
    if (i === 1) break;
    const diag = cost[at(i - 1, j - 1)], up = cost[at(i - 1, j)], left = cost[at(i, j - 1)];
    if (diag <= up && diag <= left) {
      i--;
      j--;
    } else if (up <= left) i--;
    else j--;
  }
  return Float64Array.from(sums, (v, k) => counts[k] ? v / counts[k] : 0);
}

/**
 * Finds the last place in `recording` (48 kHz mono, first sample at `startAt` epoch ms) where
 * `text`, as the simulation synthesizes it, was heard: the loudness envelope, time-warped within
 * {@link MAX_STRETCH}, correlates at or above {@link MATCH_THRESHOLD} and the pitch agrees within
 * {@link PITCH_TOLERANCE}. `undefined` when no place does. Only places starting at or after
 * `notBefore` (epoch ms) count.
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
  const score = (o: number): number => {
    // Cheap checks first: roughly the right shape here, and the right pitch.
    if (pearson(expected, padded, o) < 0.4) return -1;
    if (pitchOff(expectedPitch, heardPitch, o) > maxPitchOff) return -1;
    return pearson(expected, warped(expected, padded, o), 0);
  };
  // Scan from the end for the last matching offset, then take the best one around it.
  let found = -1;
  for (let o = last; o >= first; o--) {
    if (score(o) >= minCorrelation) {
      found = o;
      break;
    }
  }
  if (found < 0) return undefined;
  // Warping makes the score flat around the true place; the plain alignment pins it down.
  let best = found;
  for (let o = found - 1; o >= Math.max(first, found - expected.length); o--) {
    if (
      score(o) >= minCorrelation && pearson(expected, padded, o) > pearson(expected, padded, best)
    ) {
      best = o;
    }
  }
  const bestScore = score(best);
  const aligned = warped(expected, padded, best);
  const peak = Math.max(...expected);
  let voiced = 0, arrived = 0;
  for (let i = 0; i < expected.length; i++) {
    if (expected[i] < 0.1 * peak) continue;
    voiced++;
    if (aligned[i] >= 0.1 * peak) arrived++;
  }
  const startAt = recording.startAt + best * 10;
  const expectedMs = expected.length * 10;
  return {
    correlation: bestScore,
    pitchOff: pitchOff(expectedPitch, heardPitch, best),
    coverage: voiced === 0 ? 0 : arrived / voiced,
    startAt,
    endAt: startAt + expectedMs,
    recordedAfterMs: recording.startAt + heardEnv.length * 10 - (startAt + expectedMs),
    expectedMs,
    endHeard: endHeard(expected, padded, best),
  };
}
