/**
 * The live microphone level on the status line: proof that the microphone is
 * heard (and how loud), as LiveKit's consoles show one. Peak level in dBFS
 * per frame, shown on a -60..0 dB scale with a fast attack and a slow fall, so
 * speech reads as a steady bar rather than a flicker.
 *
 * @module
 */

/** Bottom of the scale: quieter than this shows as an empty bar. */
export const METER_FLOOR_DB = -60;
/** How fast the bar falls after a peak, in dB per second. */
export const METER_FALL_DB_PER_S = 30;

const BLOCKS = ["▏", "▎", "▍", "▌", "▋", "▊", "▉", "█"];

/** Peak level of 16-bit samples in dBFS (-Infinity for digital silence). */
export function peakDbfs(samples: Int16Array): number {
  let peak = 0;
  for (const s of samples) {
    const a = s < 0 ? -s : s;
    if (a > peak) peak = a;
  }
  return peak === 0 ? -Infinity : 20 * Math.log10(peak / 32768);
}

/** Tracks the level of the frames pushed into it and renders it as a bar. */
export class LevelMeter {
  #db = -Infinity;
  #at = 0;

  /** Takes one frame heard at `now` (ms, `performance.now()` by default). */
  push(samples: Int16Array, now = performance.now()): void {
    const shown = this.level(now);
    const db = peakDbfs(samples);
    this.#db = db > shown ? db : shown;
    this.#at = now;
  }

  /** The level to show at `now`: the last peak, fallen at {@link METER_FALL_DB_PER_S}. */
  level(now = performance.now()): number {
    return this.#db - METER_FALL_DB_PER_S * Math.max(0, now - this.#at) / 1000;
  }

  /**
   * The level as a bar of `width` cells (eighth-cell resolution), then the
   * value: `█████▍    -21 dB`; `         ` and `-∞` below the floor.
   */
  render(width = 10, now = performance.now()): string {
    const db = this.level(now);
    const fraction = Math.min(1, Math.max(0, (db - METER_FLOOR_DB) / -METER_FLOOR_DB));
    const eighths = Math.round(fraction * width * 8);
    const full = Math.floor(eighths / 8);
    const part = eighths % 8;
    const bar = "█".repeat(full) + (part > 0 ? BLOCKS[part - 1] : "");
    const value = db <= METER_FLOOR_DB ? "-∞" : `${Math.round(db)}`;
    return `${bar.padEnd(width)} ${value.padStart(3)} dB`;
  }
}
