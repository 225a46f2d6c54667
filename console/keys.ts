/**
 * The console's keys, as LiveKit's consoles have them: in voice mode `m`
 * mutes the microphone, Ctrl+T switches to typing, `?` lists the keys; in
 * text mode keys type, Ctrl+T switches back to voice and `?` on an empty line
 * lists the keys. Ctrl+C ends the session in both (twice: quits at once).
 * Also the line that says how to quit while the session ends, which must not
 * offer a key to a pipe.
 *
 * @module
 */

/** How the user talks to the agent right now. */
export type InputMode = "voice" | "text" | "wav";

/** What a key does. */
export type KeyAction = "mute" | "switch" | "keys";

/**
 * The action of `key` (`"m"`, `"?"`, `"ctrl+t"`, ...) in `mode`; `typing`
 * says whether the text line holds something (then `?` is just a character).
 */
export function keyAction(mode: InputMode, key: string, typing = false): KeyAction | undefined {
  if (key === "ctrl+t") return "switch";
  if (key === "?" && !typing) return "keys";
  if (mode === "voice" && (key === "m" || key === "M")) return "mute";
  return undefined;
}

/** The `?` list for `mode`, one line. */
export function keysLine(mode: InputMode): string {
  const keys = mode === "voice"
    ? ["m mute/unmute", "Ctrl+T type instead", "? keys", "Ctrl+C end (twice: quit)"]
    : mode === "text"
    ? ["Enter send", "Ctrl+T speak instead", "? keys (empty line)", "Ctrl+C end (twice: quit)"]
    : ["the recording plays as the microphone", "Ctrl+C end (twice: quit)"];
  return `keys: ${keys.join(" · ")}`;
}

/** The status line's hint for `mode`. */
export function statusHint(mode: InputMode): string {
  return mode === "text" ? "type a message, Enter to send · ? for keys" : "? for keys";
}

/** Why the session is ending, as far as quitting at once is concerned. */
export type EndingCause =
  | { kind: "key" }
  | { kind: "signal"; signal: string }
  | { kind: "input" };

/**
 * The parenthesis after "ending the session; the agent says goodbye": how to
 * quit at once, or nothing when no key can reach the console (input from a
 * pipe, no terminal).
 */
export function quitHint(cause: EndingCause, terminal: boolean): string {
  switch (cause.kind) {
    case "key":
      return " (Ctrl+C again to quit at once)";
    case "signal":
      return cause.signal === "SIGINT"
        ? " (Ctrl+C again to quit at once)"
        : ` (a second ${cause.signal} quits at once)`;
    case "input":
      return terminal ? " (Ctrl+C to quit at once)" : "";
  }
}
