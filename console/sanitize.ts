/**
 * Makes text from outside the console (LLM replies, STT transcripts, tool
 * arguments and results, the agent's log lines) safe to print on a terminal.
 *
 * A model can be talked into emitting escape sequences: an OSC string can set
 * the window title or write a hyperlink, CSI sequences move the cursor and
 * erase what is on screen, and DCS/APC strings reach the terminal's own
 * command channels. Only printable text, newlines and tabs get through.
 *
 * @module
 */

// One regular expression, tried left to right at each ESC / C1 introducer:
// - OSC, DCS, SOS, PM, APC strings (ESC ] P X ^ _, or their C1 forms) up to
//   BEL or ST (ESC \ or 0x9c), or to the end of the text when unterminated;
// - CSI (ESC [ or 0x9b) with parameter, intermediate and final bytes;
// - any other escape: ESC, intermediate bytes, one final byte (RIS, charset
//   selection...), or a lone ESC.
const ESCAPES = new RegExp(
  [
    "(?:\\x1b[\\]PX^_]|[\\x90\\x98\\x9d\\x9e\\x9f])[\\s\\S]*?(?:\\x07|\\x1b\\\\|\\x9c|$)",
    "(?:\\x1b\\[|\\x9b)[\\x30-\\x3f]*[\\x20-\\x2f]*[\\x40-\\x7e]?",
    "\\x1b[\\x20-\\x2f]*[\\x30-\\x7e]?",
  ].join("|"),
  "g",
);

// What is left after the sequences are gone: C0 controls but tab and newline,
// DEL, C1 controls, and the Unicode bidirectional overrides/isolates that can
// make a line read differently from what it holds.
// deno-lint-ignore no-control-regex
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Removes every terminal control sequence and control character from `text`,
 * keeping newlines (a carriage return before one becomes nothing) and tabs.
 */
export function printable(text: string): string {
  return text.replace(/\r\n/g, "\n").replace(ESCAPES, "").replace(CONTROLS, "");
}

/** {@link printable}, with newlines and tabs turned into spaces: for one-line places. */
export function printableLine(text: string): string {
  return printable(text).replace(/[\n\t]+/g, " ");
}
