import { assertEquals } from "@std/assert";
import { printable, printableLine } from "./sanitize.ts";
import { ConsoleUi } from "./ui.ts";

const ESC = "\x1b";
const BEL = "\x07";

Deno.test("printable: OSC strings (window title, hyperlinks, clipboard) vanish, BEL or ST terminated", () => {
  assertEquals(printable(`a${ESC}]0;pwned${BEL}b`), "ab");
  assertEquals(
    printable(`a${ESC}]8;;https://evil.example${ESC}\\link${ESC}]8;;${ESC}\\b`),
    "alinkb",
  );
  assertEquals(printable(`a${ESC}]52;c;ZWNobyBoaQ==${BEL}b`), "ab");
  assertEquals(printable(`a\x9d0;title\x9cb`), "ab"); // C1 forms
  assertEquals(printable(`tail${ESC}]0;never terminated`), "tail");
});

Deno.test("printable: CSI cursor movement, erasing and colours vanish", () => {
  assertEquals(printable(`x${ESC}[2J${ESC}[H${ESC}[1;1Hy`), "xy");
  assertEquals(printable(`${ESC}[31mred${ESC}[0m`), "red");
  assertEquals(printable(`${ESC}[?1049h${ESC}[?25l${ESC}[6n!`), "!");
  assertEquals(printable(`a\x9b2Kb`), "ab");
});

Deno.test("printable: DCS/APC strings, two-byte escapes, controls and bidi overrides vanish", () => {
  assertEquals(printable(`a${ESC}P+q544e${ESC}\\b`), "ab");
  assertEquals(printable(`a${ESC}_payload${ESC}\\b`), "ab");
  assertEquals(printable(`a${ESC}cb${ESC}(0c${ESC}`), "abc");
  assertEquals(printable("over\rwrite\b\x00\x7f!"), "overwrite!");
  assertEquals(printable("abc\u202edcba\u2066x\u2069"), "abcdcbax");
});

Deno.test("printable: ordinary text, newlines, tabs and non-ASCII stay", () => {
  const text = "Hello! Ça va? 你好 — 1 < 2 [ok] ~x\tTab\nSecond line";
  assertEquals(printable(text), text);
  assertEquals(printable("a\r\nb"), "a\nb");
  assertEquals(printableLine("a\nb\tc"), "a b c");
});

Deno.test("ConsoleUi: agent, user, tool, partial and error text from outside is printed without control sequences", () => {
  const out: string[] = [];
  for (const tty of [false, true]) {
    const ui = new ConsoleUi({
      tty,
      color: false,
      write: (s) => out.push(s),
      writeErr: (s) => out.push(s),
    });
    ui.agent(`Sure${ESC}]0;owned${BEL}${ESC}[2J!`);
    ui.user(`hi${ESC}[1A${ESC}[2K`);
    ui.tool(`end${ESC}[31m_session`, `{"x":"${ESC}]8;;u${ESC}\\"}`, `ok${ESC}[H`, false);
    ui.partial(`par${ESC}]2;t${BEL}tial`);
    ui.warn(`agent error: boom${ESC}[2J`);
    ui.info(`note${ESC}]0;t${BEL}`);
    ui.error(`bad${ESC}[5n`);
    ui.finish();
  }
  const all = out.join("");
  // The only escapes left are the UI's own status-line handling (\r ESC [2K) on the TTY.
  // deno-lint-ignore no-control-regex
  const foreign = all.replaceAll("\r\x1b[2K", "").match(/\x1b|\x07|\x9b|\x9d/g);
  assertEquals(foreign, null, JSON.stringify(all));
  for (const s of ["agent: Sure!", "you: hi", 'tool: end_session({"x":""}) → ok']) {
    assertEquals(all.includes(s), true, `${s} missing from ${JSON.stringify(all)}`);
  }
});
