import { APIConnectionError, APIStatusError, type llm } from "@livekit/agents";
import { assert, assertEquals, assertInstanceOf, assertRejects } from "@std/assert";
import { type LlmBrain, OFFLINE_GOODBYE_TEXT, startGateway } from "./mod.ts";
import {
  endSessionTools,
  first,
  KEY,
  makeLlm,
  nextError,
  NO_RETRY,
  SECRET,
  statusOf,
  userSays,
  within,
} from "../testing/simulation_support.ts";

interface Collected {
  text: string;
  calls: { name: string; args: string; callId: string }[];
}

async function collect(stream: AsyncIterable<llm.ChatChunk>): Promise<Collected> {
  const out: Collected = { text: "", calls: [] };
  for await (const chunk of stream) {
    if (chunk.delta?.content) out.text += chunk.delta.content;
    for (const c of chunk.delta?.toolCalls ?? []) {
      out.calls.push({ name: c.name, args: c.args, callId: c.callId });
    }
  }
  return out;
}

Deno.test("llm: goodbye gives text and an end_session call in one reply", async () => {
  const gw = await startGateway({ apiKey: KEY, apiSecret: SECRET });
  const model = makeLlm(gw);
  try {
    const got = await within(
      collect(
        model.chat({ chatCtx: userSays("Okay, that's all. Bye!"), toolCtx: endSessionTools() }),
      ),
      5_000,
      "chat completion",
    );
    assertEquals(got.text, OFFLINE_GOODBYE_TEXT);
    assertEquals(got.calls.map((c) => [c.name, c.args]), [["end_session", "{}"]]);
    const req = first(gw, "llm_request");
    assertEquals(req.model, "openai/gpt-4.1-mini");
    assertEquals(req.tools, ["end_session"]);
    assertEquals(req.messages.at(-1), { role: "user", content: "Okay, that's all. Bye!" });
    assertEquals(first(gw, "llm_tool_call").callId, got.calls[0].callId);
  } finally {
    await model.aclose();
    await gw.close();
  }
});

Deno.test("llm: offline brain never calls end_session when the tool is not offered", async () => {
  const gw = await startGateway();
  const model = makeLlm(gw);
  try {
    const got = await within(collect(model.chat({ chatCtx: userSays("goodbye") })), 5_000, "chat");
    assertEquals(got.calls, []);
    assert(got.text.startsWith(OFFLINE_GOODBYE_TEXT));
    const hello = await within(collect(model.chat({ chatCtx: userSays("hello") })), 5_000, "chat");
    assert(hello.text.length > 0);
    assertEquals(hello.calls, []);
  } finally {
    await model.aclose();
    await gw.close();
  }
});

Deno.test("llm: scripted brain can send two calls and malformed arguments", async () => {
  const brain: LlmBrain = () => ({
    text: ["Bye", " now."],
    toolCalls: [
      { name: "end_session", arguments: "{}" },
      { name: "end_session", arguments: '{"reason": "dup' },
    ],
  });
  const gw = await startGateway({ llm: brain });
  const model = makeLlm(gw);
  try {
    const got = await within(
      collect(model.chat({ chatCtx: userSays("bye"), toolCtx: endSessionTools() })),
      5_000,
      "chat",
    );
    assertEquals(got.text, "Bye now.");
    assertEquals(got.calls.map((c) => [c.name, c.args]), [
      ["end_session", "{}"],
      ["end_session", '{"reason": "dup'],
    ]);
    assert(got.calls[0].callId !== got.calls[1].callId);
  } finally {
    await model.aclose();
    await gw.close();
  }
});

Deno.test("llm: prewarm lists models; latency is reported", async () => {
  const gw = await startGateway({ latency: { llmFirstTokenMs: 30 } });
  const model = makeLlm(gw);
  try {
    model.prewarm();
    await gw.waitFor((e) => e.kind === "models_list", 5_000);
    const t0 = performance.now();
    const got = await within(collect(model.chat({ chatCtx: userSays("hello") })), 5_000, "chat");
    assert(got.text.length > 0);
    assert(performance.now() - t0 >= 30, "first token latency applied");
    assertEquals(gw.latency.llmFirstTokenMs, 30);
    assertEquals(first(gw, "llm_request").firstTokenLatencyMs, 30);
  } finally {
    await model.aclose();
    await gw.close();
  }
});

Deno.test("llm fault error: HTTP 500 surfaces as APIStatusError 500", async () => {
  const gw = await startGateway({ faults: { llm: "error" } });
  const model = makeLlm(gw);
  try {
    const err = nextError(model, 5_000, "llm error event");
    const got = await within(
      collect(model.chat({ chatCtx: userSays("hello"), connOptions: NO_RETRY })),
      5_000,
      "chat",
    );
    assertEquals(got.text, "");
    const e = await err;
    assertInstanceOf(e, APIStatusError);
    assertEquals(statusOf(e), 500);
    await gw.waitFor((e) => e.kind === "fault" && e.target === "llm", 1_000);
  } finally {
    await model.aclose();
    await gw.close();
  }
});

Deno.test("llm fault once: the retry after a 500 succeeds", async () => {
  const gw = await startGateway({ faults: { llm: "error", once: true } });
  const model = makeLlm(gw);
  // Node EventEmitter semantics: emitting "error" with no listener throws, which would end the
  // plugin's retry loop at the first (recoverable) failure.
  const errors: Error[] = [];
  model.on("error", (e) => errors.push(e.error));
  try {
    const got = await within(
      collect(model.chat({
        chatCtx: userSays("hello"),
        connOptions: { maxRetry: 1, retryIntervalMs: 1, timeoutMs: 2_000 },
      })),
      5_000,
      "chat",
    );
    assert(got.text.length > 0);
    assertEquals(gw.log.filter((e) => e.kind === "llm_request").length, 2);
    assertEquals(gw.faults.llm, undefined);
    assertEquals(errors.map(statusOf), [500]);
  } finally {
    await model.aclose();
    await gw.close();
  }
});

Deno.test("llm fault drop_mid_stream: partial reply, then a connection error", async () => {
  const gw = await startGateway({
    llm: () => ({ text: "one two three four five six seven eight" }),
    faults: { llm: "drop_mid_stream" },
  });
  const model = makeLlm(gw);
  try {
    const err = nextError(model, 5_000, "llm error event");
    const got = await within(
      collect(model.chat({ chatCtx: userSays("hi"), connOptions: NO_RETRY })),
      5_000,
      "chat",
    );
    assert(
      got.text.length > 0 && got.text.length < "one two three four five six seven eight".length,
    );
    assertInstanceOf(await err, APIConnectionError);
  } finally {
    await model.aclose();
    await gw.close();
  }
});

Deno.test("llm fault stall_mid_stream: partial reply, then nothing until the client aborts", async () => {
  const gw = await startGateway({
    llm: () => ({ text: "one two three four five six" }),
    faults: { llm: "stall_mid_stream" },
  });
  const model = makeLlm(gw);
  const stream = model.chat({ chatCtx: userSays("hi"), connOptions: NO_RETRY });
  try {
    const it = stream[Symbol.asyncIterator]();
    let text = "";
    await gw.waitFor((e) => e.kind === "fault" && e.fault === "stall_mid_stream", 5_000);
    // Read what was sent before the stall; the stream must then stay silent (not end, not fail).
    while (true) {
      const next = it.next();
      const r = await Promise.race([
        next,
        new Promise<"silent">((resolve) => {
          const t = setTimeout(() => resolve("silent"), 500);
          next.finally(() => clearTimeout(t));
        }),
      ]);
      if (r === "silent") break;
      assert(!r.done, "stream ended although the gateway stalled");
      text += r.value.delta?.content ?? "";
    }
    assertEquals(text, "one two three four ");
  } finally {
    stream.close();
    await model.aclose();
    await gw.close();
  }
});

Deno.test("llm auth: a wrong secret is rejected with 401", async () => {
  const gw = await startGateway({ apiKey: KEY, apiSecret: SECRET });
  const model = makeLlm(gw, "not-the-secret-but-long-enough-0123456789");
  try {
    const err = nextError(model, 5_000, "llm error event");
    await within(
      collect(model.chat({ chatCtx: userSays("hi"), connOptions: NO_RETRY })),
      5_000,
      "chat",
    );
    const e = await err;
    assertInstanceOf(e, APIStatusError);
    assertEquals(statusOf(e), 401);
    await gw.waitFor((e) => e.kind === "auth_rejected", 1_000);
    assertEquals(first(gw, "auth_rejected").reason, "invalid token signature");
    assertEquals(gw.log.filter((e) => e.kind === "llm_request").length, 0);
  } finally {
    await model.aclose();
    await gw.close();
  }
});

Deno.test("http: no token is 401 (/eot too); /bargein is 404; close is idempotent", async () => {
  const gw = await startGateway({ apiKey: KEY, apiSecret: SECRET });
  try {
    for (const p of ["models", "eot"]) {
      const r = await fetch(`${gw.url}/${p}`);
      assertEquals(r.status, 401);
      assert((await r.text()).includes("missing Authorization"));
    }
    const res = await fetch(`${gw.url}/bargein`);
    assertEquals(res.status, 404);
    await res.body?.cancel();
    await assertRejects(() => gw.waitFor((e) => e.kind === "tts_session", 50), Error, "timed out");
  } finally {
    await gw.close();
    await gw.close();
  }
  await assertRejects(() => fetch(`${gw.url}/models`));
});
