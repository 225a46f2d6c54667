import { assertEquals } from "@std/assert";
import { HeardView } from "./heard.ts";
import { ConsoleUi } from "./ui.ts";

function view(audioOut = true) {
  const out: string[] = [];
  const ui = new ConsoleUi({ tty: false, color: false, write: (s) => out.push(s) });
  let frames = 0;
  const heard = new HeardView(ui, { audioOut, audioFrames: () => frames });
  return {
    heard,
    play: (n = 10) => frames += n,
    lines: () => out.join("").trimEnd().split("\n"),
  };
}

Deno.test("a goodbye whose synthesis failed, and its retry: shown once, as not heard, with the cause", () => {
  const v = view();
  v.play();
  assertEquals(v.heard.agentMessage("It was nice talking to you.", false), "heard");
  assertEquals(v.heard.agentMessage("Goodbye!", false), "not_heard");
  assertEquals(v.heard.agentMessage("Goodbye!", false), "retry");
  v.heard.report({ kind: "goodbye", outcome: "failed", cause: "LiveKit TTS returned error: boom" });
  v.heard.report({ kind: "session_ended", endReason: "end_session", goodbye: "failed" });
  assertEquals(v.lines(), [
    "agent: It was nice talking to you.",
    "agent: Goodbye! [not heard: the TTS failed: LiveKit TTS returned error: boom]",
  ]);
  assertEquals(v.heard.goodbye, "failed");
  assertEquals(v.heard.endReason, "end_session");
  assertEquals(v.heard.failure, undefined);
});

Deno.test("a failed turn is one line with its cause; the last one is kept for the summary", () => {
  const v = view();
  const cause =
    "the LLM failed: Connection error. (gateway http://127.0.0.1:9/v1: connection refused)";
  v.heard.report({
    kind: "failed_turn",
    model: "llm",
    cause,
    failedTurns: 1,
    maxFailedTurns: 2,
    apology: "said",
  });
  v.play();
  v.heard.agentMessage("Sorry, something went wrong on my side.", false);
  v.heard.report({
    kind: "failed_turn",
    model: "llm",
    cause,
    failedTurns: 2,
    maxFailedTurns: 2,
    apology: "none",
  });
  assertEquals(v.lines(), [
    `warning: ${cause}; failed turn 1 of 2 in a row; the agent apologized`,
    "agent: Sorry, something went wrong on my side.",
    `warning: ${cause}; failed turn 2 of 2 in a row; the agent ends the call`,
  ]);
  assertEquals(v.heard.failure, { model: "llm", cause, failedTurns: 2 });
});

Deno.test("a reply the TTS failed is shown as not heard with the TTS's cause; control characters never reach the screen", () => {
  const v = view();
  v.heard.agentMessage("Here is a long answer.", false);
  v.heard.report({
    kind: "failed_turn",
    model: "tts",
    cause: "the TTS failed: bad\u001b]0;pwned\u0007 thing",
    failedTurns: 1,
    maxFailedTurns: 3,
    apology: "not_heard",
  });
  assertEquals(v.lines(), [
    "agent: Here is a long answer. [not heard: the TTS failed: bad]0;pwned thing]",
    "warning: the TTS failed: bad]0;pwned thing; failed turn 1 of 3 in a row; the agent could not apologize (its TTS failed)",
  ]);
});

Deno.test("with speech off (--silent) nothing is ever 'not heard'", () => {
  const v = view(false);
  assertEquals(v.heard.agentMessage("Hello.", false), "heard");
  assertEquals(v.heard.agentMessage("Goodbye!", false), "heard");
  assertEquals(v.lines(), ["agent: Hello.", "agent: Goodbye!"]);
});
