/**
 * The console shows what the user actually heard, end to end: the real
 * console (`main.ts console --text`) and the real agent child, against a
 * loopback Inference gateway that fails, or against a URL nothing listens on.
 */
import { assert, assertEquals, assertMatch } from "@std/assert";
import { type LlmBrain, startGateway } from "../simulation/mod.ts";
import { KEY, SECRET } from "../testing/simulation_support.ts";
import { ConsoleProc, MAIN, settled } from "./testdata/harness.ts";
import { MODEL_FAILURE_EXIT } from "./exit_codes.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

/** Answers any user message with the end_session call only: the goodbye is the first speech. */
const toolOnly: LlmBrain = () => ({ toolCalls: [{ name: "end_session", arguments: "{}" }] });

function agentEnv(inferenceUrl: string, extra: Record<string, string> = {}) {
  return {
    LIVEKIT_API_KEY: KEY,
    LIVEKIT_API_SECRET: SECRET,
    LIVEKIT_INFERENCE_URL: inferenceUrl,
    GOODBYE_TIMEOUT_MS: "1500",
    TURN_DETECTION: "vad",
    ...extra,
  };
}

async function finish(proc: ConsoleProc): Promise<void> {
  if ((await settled([proc.child.pid], 0)).length) await proc.kill();
  else await proc.endInput();
  assertEquals(await settled(proc.leftovers()), [], "processes outlived the console");
}

Deno.test({
  name: "e2e: a goodbye whose synthesis failed is shown once, as not heard, with the cause; exit 0",
  ...opts,
  async fn() {
    const gw = await startGateway({
      apiKey: KEY,
      apiSecret: SECRET,
      llm: toolOnly,
      faults: { tts: "error" },
    });
    const proc = new ConsoleProc([MAIN, "console", "--text"], agentEnv(gw.url));
    try {
      await proc.waitFor(/agent connected/, 60_000);
      await proc.type("bye");
      const st = await proc.exit(30_000);
      assertEquals(st.code, 0, proc.out + proc.err);
      const goodbyes = proc.out.split("\n").filter((l) => l.startsWith("agent: Goodbye!"));
      assertEquals(goodbyes.length, 1, proc.out);
      assertMatch(
        goodbyes[0],
        /^agent: Goodbye! \[not heard: the TTS failed: .*stand-in: injected TTS error\]$/,
      );
      assertEquals(gw.synthesized(), ["Goodbye!", "Goodbye!"], "the goodbye was tried twice");
      assert(!/agent error:/.test(proc.out), "a label-only error line reached the screen");
    } finally {
      await finish(proc);
      await gw.close();
    }
  },
});

Deno.test({
  name:
    "e2e: Inference at a URL nothing listens on: the cause in one line (URL, connection refused), exit 3",
  ...opts,
  async fn() {
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const url = `http://127.0.0.1:${(closed.addr as Deno.NetAddr).port}/v1`;
    closed.close();
    const proc = new ConsoleProc(
      [MAIN, "console", "--text"],
      agentEnv(url, { MAX_FAILED_TURNS: "1" }),
    );
    try {
      await proc.waitFor(/agent connected/, 60_000);
      await proc.type("hello");
      const st = await proc.exit(60_000);
      assertEquals(st.code, MODEL_FAILURE_EXIT, proc.out + proc.err);
      const escaped = url.replaceAll(".", "\\.");
      const failure = proc.out.split("\n").filter((l) =>
        l.startsWith("warning: ") && l.includes("failed turn")
      );
      assertEquals(failure.length, 1, proc.out);
      assertMatch(
        failure[0],
        new RegExp(
          `^warning: the (LLM|STT) failed: .* \\(gateway ${escaped}: connection refused\\); ` +
            "failed turn 1 of 1 in a row; the agent ends the call$",
        ),
      );
      assertMatch(
        proc.out,
        /^session ended: the call ended after 1 failed turn in a row \((llm|stt)_error\): .*connection refused\)$/m,
      );
      for (const line of proc.out.split("\n").filter((l) => l.startsWith("agent: Goodbye!"))) {
        assertMatch(line, /\[not heard: /);
      }
    } finally {
      await finish(proc);
    }
  },
});
