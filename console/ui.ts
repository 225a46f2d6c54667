/**
 * Terminal rendering of a console session. Two shapes of the same content:
 * on a TTY, colours, a spinner and a live status line with the prompt at the
 * bottom; on a pipe (CI, tests, `| tee`), one plain line per event with
 * stable prefixes (`you:`, `agent:`, `tool:`, `state:`) that scripts can grep.
 *
 * Text that comes from outside (model replies, transcripts, tool calls, error
 * messages) goes through {@link printable} here, so a reply cannot move the
 * cursor, clear the screen or retitle the window.
 *
 * @module
 */

import { formatLatency, type TurnLatency } from "./latency.ts";
import { printable, printableLine } from "./sanitize.ts";

const enc = new TextEncoder();

/** Agent states as the console shows them. */
export type AgentStateName = "initializing" | "idle" | "listening" | "thinking" | "speaking";

const STATE_ICON: Record<AgentStateName, string> = {
  initializing: "○",
  idle: "○",
  listening: "●",
  thinking: "◐",
  speaking: "◉",
};

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** Options of {@link ConsoleUi}. */
export interface UiOptions {
  /** Rich rendering (TTY). Defaults to whether stdout is a terminal. */
  tty?: boolean;
  /** Colours; defaults to `tty` unless NO_COLOR is set. */
  color?: boolean;
  /** Sink for output; defaults to synchronous stdout writes. */
  write?: (s: string) => void;
  /** Sink for errors; defaults to synchronous stderr writes. */
  writeErr?: (s: string) => void;
}

function syncWriter(f: { writeSync(p: Uint8Array): number }): (s: string) => void {
  return (s) => {
    const b = enc.encode(s);
    let off = 0;
    while (off < b.length) off += f.writeSync(b.subarray(off));
  };
}

/** Renders the conversation; all methods are synchronous and cheap. */
export class ConsoleUi {
  readonly tty: boolean;
  readonly #color: boolean;
  readonly #write: (s: string) => void;
  readonly #writeErr: (s: string) => void;
  #spinner:
    | { text: string; timer?: ReturnType<typeof setInterval>; frame: number; started: number }
    | undefined;
  #state: AgentStateName | undefined;
  #partial = "";
  #input: string | undefined;
  #hint = "";
  #statusShown = false;
  #meter?: () => string | undefined;
  #meterTimer?: ReturnType<typeof setInterval>;

  constructor(opts: UiOptions = {}) {
    this.tty = opts.tty ?? Deno.stdout.isTerminal();
    this.#color = opts.color ?? (this.tty && !Deno.env.get("NO_COLOR"));
    this.#write = opts.write ?? syncWriter(Deno.stdout);
    this.#writeErr = opts.writeErr ?? syncWriter(Deno.stderr);
  }

  #c(code: string, s: string): string {
    return this.#color ? `\x1b[${code}m${s}\x1b[0m` : s;
  }
  /** Bold text (when colours are on). */
  bold(s: string): string {
    return this.#c("1", s);
  }
  /** Red text (when colours are on): what needs attention, such as a slow figure. */
  red(s: string): string {
    return this.#c("31", s);
  }
  /** Dim text (when colours are on). */
  dim(s: string): string {
    return this.#c("2", s);
  }

  /** Prints a full line above the status line. */
  line(s: string): void {
    if (this.tty) {
      this.#clearStatus();
      this.#write(s + "\n");
      this.#drawStatus();
    } else {
      this.#write(s + "\n");
    }
  }

  /** The opening banner; `simulation` labels an offline run unmistakably. */
  banner(mode: string, simulation: boolean): void {
    const title = this.#c("1", "exit-message console");
    this.line(`${title} ${this.dim("·")} ${mode}`);
    if (simulation) {
      this.line(
        this.#c(
          "30;43",
          " SIMULATION ",
        ) +
          " offline: a local stand-in of LiveKit Inference answers (scripted LLM, synthetic voice); no account used",
      );
    }
  }

  /** Shows a spinner with `text` (TTY) or prints `text…` once (pipe). */
  spin(text: string): void {
    if (!this.tty) {
      this.line(`${text}...`);
      return;
    }
    this.stopSpin();
    const s: {
      text: string;
      frame: number;
      started: number;
      timer?: ReturnType<typeof setInterval>;
    } = {
      text,
      frame: 0,
      started: performance.now(),
    };
    s.timer = setInterval(() => {
      s.frame = (s.frame + 1) % SPINNER.length;
      this.#drawStatus();
    }, 80);
    this.#spinner = s;
    this.#drawStatus();
  }

  /** Replaces the spinner text (TTY only). */
  spinText(text: string): void {
    if (this.#spinner) this.#spinner.text = text;
  }

  /** Stops the spinner, optionally leaving a final line. */
  stopSpin(final?: string): void {
    if (this.#spinner) {
      clearInterval(this.#spinner.timer);
      this.#spinner = undefined;
      this.#drawStatus();
    }
    if (final) this.line(final);
  }

  /** Success line. */
  ok(s: string): void {
    this.line(`${this.#c("32", "✓")} ${s}`);
  }
  /** Informational line. */
  info(s: string): void {
    s = printable(s);
    this.line(this.tty ? this.dim(`· ${s}`) : `info: ${s}`);
  }
  /** Warning line. */
  warn(s: string): void {
    s = printable(s);
    this.line(this.tty ? this.#c("33", `! ${s}`) : `warning: ${s}`);
  }
  /** Error line (one sentence, no stack), on stderr. */
  error(s: string): void {
    s = printable(s);
    this.errLine(this.tty ? this.#c("31", `✗ ${s}`) : `error: ${s}`);
  }

  /** A raw line on stderr (error details such as the agent's last log lines). */
  errLine(s: string): void {
    this.#clearStatus();
    this.#writeErr(s + "\n");
    this.#drawStatus();
  }

  /** What the user said (typed or transcribed). */
  user(text: string): void {
    text = printable(text);
    this.#partial = "";
    this.line(this.tty ? `${this.#c("1;36", "you   ›")} ${text}` : `you: ${text}`);
  }

  /** What the agent said; `interrupted` when playout was cut short. */
  agent(text: string, interrupted = false): void {
    text = printable(text);
    const tail = interrupted ? (this.tty ? this.dim(" (interrupted)") : " [interrupted]") : "";
    this.line(this.tty ? `${this.#c("1;35", "agent ›")} ${text}${tail}` : `agent: ${text}${tail}`);
  }

  /** A tool call and its result; `end_session` is highlighted. */
  tool(name: string, args: string, output: string, isError: boolean): void {
    [name, args, output] = [printableLine(name), printableLine(args), printableLine(output)];
    const a = args && args !== "{}" ? args : "";
    const res = output ? ` → ${isError ? "error: " : ""}${output}` : "";
    if (!this.tty) {
      this.line(`tool: ${name}(${a})${res}`);
      return;
    }
    const label = name === "end_session"
      ? this.#c("1;33", `⚑ ${name}`)
      : this.#c("33", `ƒ ${name}`);
    this.line(`${this.#c("33", "tool  ›")} ${label}(${a})${this.dim(res)}`);
  }

  /** The latency figures of the reply just shown (slow ones red on a terminal). */
  latency(l: TurnLatency): void {
    const text = formatLatency(l, (s) => this.red(s));
    if (!text) return;
    this.line(this.tty ? this.dim(`        ⏱ ${text}`) : `latency: ${text}`);
  }

  /**
   * A live gauge on the status line (the microphone level), redrawn ten times
   * a second while set (TTY only); undefined removes it.
   */
  setMeter(meter: (() => string | undefined) | undefined): void {
    this.#meter = meter;
    if (!this.tty) return;
    if (meter && this.#meterTimer === undefined) {
      this.#meterTimer = setInterval(() => this.#drawStatus(), 100);
    } else if (!meter && this.#meterTimer !== undefined) {
      clearInterval(this.#meterTimer);
      this.#meterTimer = undefined;
    }
    this.#drawStatus();
  }

  /** Agent state (listening / thinking / speaking). */
  state(s: AgentStateName): void {
    if (s === this.#state) return;
    this.#state = s;
    if (this.tty) this.#drawStatus();
    else if (s === "listening" || s === "thinking" || s === "speaking") this.line(`state: ${s}`);
  }

  /** Interim transcript of the user (TTY status line only). */
  partial(text: string): void {
    this.#partial = printableLine(text);
    if (this.tty) this.#drawStatus();
  }

  /** Current text being typed, or undefined to hide the prompt (TTY). */
  setInput(text: string | undefined): void {
    this.#input = text;
    if (this.tty) this.#drawStatus();
  }

  /** A short hint shown on the status line (TTY). */
  setHint(text: string): void {
    this.#hint = text;
    if (this.tty) this.#drawStatus();
  }

  /** Removes the status line for good (before exit). */
  finish(): void {
    this.stopSpin();
    this.setMeter(undefined);
    this.#input = undefined;
    this.#state = undefined;
    this.#hint = "";
    if (this.tty) this.#clearStatus();
  }

  #clearStatus(): void {
    if (this.#statusShown) {
      this.#write("\r\x1b[2K");
      this.#statusShown = false;
    }
  }

  #drawStatus(): void {
    if (!this.tty) return;
    let s = "";
    if (this.#spinner) {
      const secs = ((performance.now() - this.#spinner.started) / 1000).toFixed(1);
      s = `${this.#c("36", SPINNER[this.#spinner.frame])} ${this.#spinner.text} ${
        this.dim(`${secs} s`)
      }`;
    } else if (this.#state) {
      const st = this.#state;
      const color = st === "speaking" ? "35" : st === "thinking" ? "33" : "32";
      s = this.#c(color, `${STATE_ICON[st]} ${st.padEnd(9)}`);
      const gauge = this.#meter?.();
      if (gauge) s += ` ${gauge.startsWith("MUTED") ? this.#c("1;31", gauge) : this.dim(gauge)}`;
      if (this.#partial) s += ` ${this.dim(`… ${this.#partial}`)}`;
      if (this.#input !== undefined) {
        s += ` ${this.#c("1;36", "›")} ${this.#input || (this.#hint ? this.dim(this.#hint) : "")}`;
      } else if (this.#hint) s += ` ${this.dim(this.#hint)}`;
    }
    this.#write("\r\x1b[2K" + fit(s, terminalColumns()));
    this.#statusShown = s !== "";
  }
}

function terminalColumns(): number {
  try {
    const c = Deno.consoleSize().columns;
    return c > 10 ? c : 80; // a pty without a size reports 0
  } catch {
    return 80;
  }
}

// Keeps the status line on one row; ANSI sequences do not count as width.
function fit(s: string, cols: number): string {
  // deno-lint-ignore no-control-regex
  const visible = s.replace(/\x1b\[[0-9;]*m/g, "");
  if (visible.length < cols) return s;
  return visible.slice(visible.length - (cols - 2));
}
