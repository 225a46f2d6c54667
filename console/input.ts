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
}

/** A running input reader; `stop` restores the terminal. */
export interface InputHandle {
  stop(): void;
}

/** Starts reading stdin; raw line editing when `tty`. */
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

  (async () => {
    const dec = new TextDecoder();
    let buf = "";
    let esc = false;
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
        for (const ch of text) {
          const code = ch.codePointAt(0)!;
          if (esc) {
            // Skip an escape sequence (arrows, function keys) up to its final byte.
            if (/[A-Za-z~]/.test(ch)) esc = false;
            continue;
          }
          if (code === 0x1b) {
            esc = true;
          } else if (code === 3) {
            h.onInterrupt();
          } else if (code === 4) {
            if (buf === "") {
              h.onEof();
              return;
            }
          } else if (ch === "\r" || ch === "\n") {
            const line = buf;
            buf = "";
            h.onEdit?.("");
            h.onLine(line);
          } else if (code === 127 || code === 8) {
            buf = [...buf].slice(0, -1).join("");
            h.onEdit?.(buf);
          } else if (code === 21) { // Ctrl+U
            buf = "";
            h.onEdit?.(buf);
          } else if (code >= 32) {
            buf += ch;
            h.onEdit?.(buf);
          }
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
  };
}
