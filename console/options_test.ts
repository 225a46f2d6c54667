import { assertEquals, assertThrows } from "@std/assert";
import { ArgError, HELP, parseConsoleArgs } from "./options.ts";

Deno.test("console options: devices, recording and listing flags, inline or spaced", () => {
  const o = parseConsoleArgs([
    "--input-device=USB",
    "--output-device",
    "3",
    "--record",
    "rec/today",
    "--list-devices",
  ]);
  assertEquals(
    [o.inputDevice, o.outputDevice, o.recordDir, o.listDevices],
    ["USB", "3", "rec/today", true],
  );
  assertEquals(parseConsoleArgs([]).listDevices, false);
});

Deno.test("console options: contradictions and empty values are one sentence each", () => {
  const cases: [string[], string][] = [
    [["--text", "--silent", "--record", "d"], "--silent with --text leaves no audio"],
    [["--no-devices", "--input-device", "1"], "--no-devices and --input-device"],
    [["--record="], "--record is empty"],
    [["--input-device", ""], "--input-device is empty"],
    [["--record"], "--record needs a value"],
    [["--text", "--input-wav", "a.wav"], "--text and --input-wav exclude each other"],
    [["--txet"], "unknown option --txet; did you mean --text? (see deno task console --help)"],
    [["--bogus=1"], "unknown option --bogus (see deno task console --help)"],
    [["hello"], "unexpected argument hello (see deno task console --help)"],
  ];
  for (const [args, msg] of cases) assertThrows(() => parseConsoleArgs(args), ArgError, msg);
});

Deno.test("console --help names every flag the parser takes", () => {
  const flags = [
    "--offline",
    "--text",
    "--silent",
    "--input-wav",
    "--output-wav",
    "--record",
    "--list-devices",
    "--input-device",
    "--output-device",
    "--no-devices",
    "--barge-in",
    "--port",
    "--connect-timeout",
    "--log-file",
    "--log-level",
    "--verbose",
  ];
  for (const f of flags) assertEquals(HELP.includes(`  ${f}`), true, f);
});
