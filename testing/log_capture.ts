/**
 * Captures the agents-js log stream in memory so a test can assert on what the
 * operator would read (a warning, an end reason), in the JSON form `start` writes.
 *
 * @module
 */
import { pino } from "pino";
import { initializeLogger, loggerOptions } from "@livekit/agents";

const LOGGER_KEY = Symbol.for("@livekit/agents:logger");

/** One captured log line, parsed. */
export interface LogLine extends Record<string, unknown> {
  /** pino's numeric level (30 info, 40 warn, 50 error). */
  level: number;
  /** The message. */
  msg: string;
}

/** An in-memory log sink installed as the process-wide agents-js logger. */
export interface LogCapture extends Disposable {
  /** Every line logged since the capture started. */
  readonly lines: LogLine[];
  /** Lines at warn level or above. */
  warnings(): LogLine[];
}

/** Installs a JSON logger that records every line; dispose it to restore the previous logger. */
export function captureLogs(level = "debug"): LogCapture {
  if (!loggerOptions()) initializeLogger({ pretty: false, level: "warn" });
  const slot = globalThis as Record<symbol, unknown>;
  const previous = slot[LOGGER_KEY];
  const lines: LogLine[] = [];
  const stream = { write: (line: string) => void lines.push(JSON.parse(line)) };
  slot[LOGGER_KEY] = pino({ level }, stream);
  return {
    lines,
    warnings: () => lines.filter((l) => l.level >= 40),
    [Symbol.dispose]() {
      slot[LOGGER_KEY] = previous;
    },
  };
}
