/**
 * Keyboard/stdin input of the console. On a terminal, raw mode with a tiny
 * line editor (so agent lines can print above what is being typed, and
 * Ctrl+C arrives as a key the console handles); on a pipe, plain lines.
 *
 * @module
 */

/** Callbacks of {@link startInput}. */
export interface InputHandlers {
  /** A complete line (Enter pressed / newline read). */
  onLine: (line: string) => void;
  /** Input ended (Ctrl+D on an empty line, or EOF of a pipe). */
  onEof: () => void;
  /** Ctrl+C typed in raw mode (signals cover the non-raw case). */
  onInterrupt: () => void;
  /** The line being edited changed (TTY only). */
  onEdit?: (buffer: string) => void;
  /**
   * A key that may be a command (TTY only): `ctrl+t` always, any printable
   * key in command mode, `?` otherwise. Returns true when it was one (the key
   * is then not typed); `typing` says whether the line holds text.
   */
  onKey?: (key: string, typing: boolean) => boolean;
}

/** A running input reader. */
export interface InputHandle {
  /** Restores the terminal and stops reading. */
  stop(): void;
  /** Command mode (voice): keys are commands, nothing is typed. Line mode otherwise. */
  setCommandMode(on: boolean): void;
}

/** What the raw-mode decoder makes of the bytes typed. */
export type KeyEvent =
  | { type: "line"; text: string }
  | { type: "edit"; buffer: string }
  | { type: "key"; key: string }
  | { type: "interrupt" }
  | { type: "eof" };

/**
 * Raw-mode keyboard decoding and the tiny line editor: Enter, Backspace,
 * Ctrl+U, Ctrl+C, Ctrl+D on an empty line, Ctrl+T, escape sequences (arrows,
 * function keys) skipped. In command mode printable keys come out as keys.
 * `isCommand(key, typing)` decides whether a key is taken as a command.
 */
export class KeyDecoder {
  commandMode = false;
  #buf = "";
  #esc = false;

  constructor(readonly isCommand: (key: string, typing: boolean) => boolean = () => false) {}

  /** Decodes `text`; stops at end of input (Ctrl+D on an empty line). */
  feed(text: string): KeyEvent[] {
    const out: KeyEvent[] = [];
    for (const ch of text) {
      const code = ch.codePointAt(0)!;
      if (this.#esc) {
        // Skip an escape sequence (arrows, function keys) up to its final byte.
        if (/[A-Za-z~]/.test(ch)) this.#esc = false;
        continue;
      }
      if (code === 0x1b) {
        this.#esc = true;
      } else if (code === 3) {
        out.push({ type: "interrupt" });
      } else if (code === 4) {
        if (this.#buf === "") {
          out.push({ type: "eof" });
          return out;
        }
      } else if (code === 20) { // Ctrl+T
        if (this.isCommand("ctrl+t", this.#buf !== "")) out.push({ type: "key", key: "ctrl+t" });
      } else if (this.commandMode) {
        if (code >= 32 && code !== 127 && this.isCommand(ch, false)) {
          out.push({ type: "key", key: ch });
        }
      } else if (ch === "\r" || ch === "\n") {
        out.push({ type: "edit", buffer: "" }, { type: "line", text: this.#buf });
        this.#buf = "";
      } else if (code === 127 || code === 8) {
        this.#buf = [...this.#buf].slice(0, -1).join("");
        out.push({ type: "edit", buffer: this.#buf });
      } else if (code === 21) { // Ctrl+U
        this.#buf = "";
        out.push({ type: "edit", buffer: this.#buf });
      } else if (code >= 32) {
        if (this.isCommand(ch, this.#buf !== "")) {
          out.push({ type: "key", key: ch });
        } else {
          this.#buf += ch;
          out.push({ type: "edit", buffer: this.#buf });
        }
      }
    }
    return out;
  }
}

/** Starts reading stdin; raw line editing and command keys when `tty`. */
export function startInput(tty: boolean, h: InputHandlers): InputHandle {
  let stopped = false;
  let raw = false;
  if (tty) {
    try {
      Deno.stdin.setRaw(true, { cbreak: false });
      raw = true;
    } catch {
      raw = false;
    }
  }
  const reader = Deno.stdin.readable.getReader();
  const restore = () => {
    if (raw) {
      try {
        Deno.stdin.setRaw(false);
      } catch {
        // terminal already gone
      }
      raw = false;
    }
  };
  const decoder = new KeyDecoder((key, typing) => h.onKey?.(key, typing) ?? false);

  (async () => {
    const dec = new TextDecoder();
    let buf = "";
    try {
      while (!stopped) {
        const { value, done } = await reader.read();
        if (done || stopped) break;
        const text = dec.decode(value, { stream: true });
        if (!raw) {
          buf += text;
          const lines = buf.split("\n");
          buf = lines.pop()!;
          for (const l of lines) h.onLine(l.replace(/\r$/, ""));
          continue;
        }
        for (const e of decoder.feed(text)) {
          if (e.type === "line") h.onLine(e.text);
          else if (e.type === "edit") h.onEdit?.(e.buffer);
          else if (e.type === "interrupt") h.onInterrupt();
          else if (e.type === "eof") {
            h.onEof();
            return;
          }
          // "key": already acted on by onKey while decoding
        }
      }
      if (!stopped && !raw && buf.trim() !== "") h.onLine(buf);
      if (!stopped) h.onEof();
    } catch {
      if (!stopped) h.onEof();
    } finally {
      restore();
    }
  })();

  return {
    stop() {
      if (stopped) return;
      stopped = true;
      restore();
      // Releasing the reader lets the process exit with a read pending.
      reader.cancel().catch(() => {});
      try {
        reader.releaseLock();
      } catch {
        // a read is still pending; cancel() above ends it
      }
    },
    setCommandMode(on: boolean) {
      decoder.commandMode = on;
    },
  };
}
