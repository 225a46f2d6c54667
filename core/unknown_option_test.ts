import { assertEquals } from "@std/assert";
import { closestOption, editDistance, unknownOptionMessage } from "./unknown_option.ts";
import { CONSOLE_FLAGS } from "../console/options.ts";
import { WORKER_FLAGS } from "../worker/option_specs.ts";

Deno.test("editDistance: inserts, deletes, substitutions, and two swapped letters count one each", () => {
  assertEquals(editDistance("--offline", "--offline"), 0);
  assertEquals(editDistance("--ofline", "--offline"), 1);
  assertEquals(editDistance("--ofline", "--offlien"), 2);
  assertEquals(editDistance("--offlien", "--offline"), 1);
  assertEquals(editDistance("", "abc"), 3);
});

Deno.test("closestOption: one close option is named; none, or a tie, names nothing", () => {
  assertEquals(closestOption("--ofline", CONSOLE_FLAGS), "--offline");
  assertEquals(closestOption("--txet", CONSOLE_FLAGS), "--text");
  assertEquals(closestOption("--list", CONSOLE_FLAGS), "--list-devices");
  assertEquals(closestOption("--drain-timout=5", WORKER_FLAGS), "--drain-timeout");
  assertEquals(closestOption("--verbose", WORKER_FLAGS), undefined);
  assertEquals(closestOption("--frobnicate", CONSOLE_FLAGS), undefined);
  // --input-wav and --output-wav... are both far; --input-devce is near one only.
  assertEquals(closestOption("--input-devce", CONSOLE_FLAGS), "--input-device");
  assertEquals(closestOption("strat", ["console", "start", "dev", "connect"]), "start");
  // Two equally close options: no guess.
  assertEquals(closestOption("--aa", ["--ab", "--ac"]), undefined);
});

Deno.test("unknownOptionMessage: one form for every command, pointing to its --help", () => {
  assertEquals(
    unknownOptionMessage("--ofline", "console", CONSOLE_FLAGS),
    "unknown option --ofline; did you mean --offline? (see deno task console --help)",
  );
  assertEquals(
    unknownOptionMessage("--verbose", "start", WORKER_FLAGS),
    "unknown option --verbose (see deno task start --help)",
  );
  assertEquals(
    unknownOptionMessage("--agent-nmae=x", "dev", WORKER_FLAGS),
    "unknown option --agent-nmae; did you mean --agent-name? (see deno task dev --help)",
  );
});
