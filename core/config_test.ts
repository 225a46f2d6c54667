import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { CLOSE_MARGIN_MS, MAX_GOODBYE_TIMEOUT_MS, SESSION_CLOSE_TIMEOUT_MS } from "./bounds.ts";
import { closeBoundMs } from "./bounds.ts";
import { DEFAULT_APOLOGY, DEFAULT_INFERENCE_URL, readAgentConfig } from "./config.ts";
import { UserError } from "./errors.ts";

const env = (vars: Record<string, string>) => ({ get: (k: string) => vars[k] });

Deno.test("GOODBYE_TIMEOUT_MS: the largest value the close bound can honour is accepted, one more is refused", () => {
  // With speech still playing when the ending starts, the whole close must fit the close
  // bound with its margin (the worst case at this limit: faults/session_test.ts).
  assertEquals(closeBoundMs(MAX_GOODBYE_TIMEOUT_MS) + CLOSE_MARGIN_MS, SESSION_CLOSE_TIMEOUT_MS);
  const max = String(MAX_GOODBYE_TIMEOUT_MS);
  assertEquals(readAgentConfig(env({ GOODBYE_TIMEOUT_MS: max })).goodbyeTimeoutMs, 10_500);
  for (const bad of [String(MAX_GOODBYE_TIMEOUT_MS + 1), "600000", "0", "1.5", "soon"]) {
    const error = assertThrows(
      () => readAgentConfig(env({ GOODBYE_TIMEOUT_MS: bad })),
      UserError,
    );
    assertStringIncludes(error.message, `GOODBYE_TIMEOUT_MS="${bad}"`);
    assertStringIncludes(error.message, `from 1 to ${max}`);
  }
});

Deno.test("failed turns and the apology: defaults, overrides, and refusals", () => {
  const defaults = readAgentConfig(env({}));
  assertEquals(defaults.maxFailedTurns, 3);
  assertEquals(defaults.apologyText, DEFAULT_APOLOGY);
  assertEquals(defaults.inferenceUrl, DEFAULT_INFERENCE_URL);
  const set = readAgentConfig(env({
    MAX_FAILED_TURNS: "1",
    APOLOGY_TEXT: "  One moment, please.  ",
    LIVEKIT_INFERENCE_URL: "http://127.0.0.1:9/v1",
  }));
  assertEquals(set.maxFailedTurns, 1);
  assertEquals(set.apologyText, "One moment, please.");
  assertEquals(set.inferenceUrl, "http://127.0.0.1:9/v1");
  for (const bad of ["0", "21", "-1", "two"]) {
    assertThrows(
      () => readAgentConfig(env({ MAX_FAILED_TURNS: bad })),
      UserError,
      "MAX_FAILED_TURNS",
    );
  }
  assertThrows(
    () => readAgentConfig(env({ APOLOGY_TEXT: "x".repeat(301) })),
    UserError,
    "APOLOGY_TEXT",
  );
});
