import { assert, assertEquals, assertInstanceOf, assertRejects } from "@std/assert";
import {
  type ChatMessage,
  type LlmRequest,
  OFFLINE_GOODBYE_TEXT,
  offlineBrain,
  signTestToken,
  SpeechDetector,
  startGateway,
  synthesizeVoice,
  ttsDurationMs,
  ttsSampleCount,
} from "./mod.ts";
import { verifyBearer } from "./jwt.ts";
import { APIConnectionError, inference, stt } from "@livekit/agents";
import { AudioFrame } from "@livekit/rtc-node";
import {
  KEY,
  logged,
  makeLlm,
  nextError,
  NO_RETRY,
  SECRET,
  userSays,
  within,
} from "../testing/simulation_support.ts";

function request(messages: ChatMessage[], tools: string[] = ["end_session"]): LlmRequest {
  return {
    model: "openai/gpt-4.1-mini",
    messages,
    tools: tools.map((name) => ({ type: "function", function: { name } })),
    body: {},
  };
}

const SYSTEM: ChatMessage = {
  role: "system",
  content: "You are helpful. Call end_session to leave.",
};

Deno.test("ttsDurationMs: 60 ms per character of trimmed text, 300 ms minimum, 0 when empty", () => {
  assertEquals(ttsDurationMs("It was nice talking to you."), 1620);
  assertEquals(ttsDurationMs("  It was nice talking to you. "), 1620);
  assertEquals(ttsDurationMs("Hi"), 300);
  assertEquals(ttsDurationMs("   "), 0);
  assertEquals(ttsSampleCount("Hi", 24000), 7200);
  assertEquals(synthesizeVoice("Hi", 24000).length, 7200);
  assertEquals(synthesizeVoice("", 24000).length, 0);
  // Deterministic: the same text renders the same samples.
  assertEquals(synthesizeVoice("Hello again", 16000), synthesizeVoice("Hello again", 16000));
});

Deno.test("offlineBrain: goodbye intents end the session with text and end_session", () => {
  const brain = offlineBrain();
  for (
    const said of ["Goodbye", "ok bye!", "That's all, thanks", "please hang up", "stop", "see you"]
  ) {
    const reply = brain(request([SYSTEM, { role: "user", content: said }]));
    assertEquals(reply, {
      text: OFFLINE_GOODBYE_TEXT,
      toolCalls: [{ name: "end_session", arguments: "{}" }],
    }, said);
  }
});

Deno.test("offlineBrain: no loop after the tool ran; greeting; plain replies; content parts", () => {
  const brain = offlineBrain();
  const afterTool = brain(request([
    SYSTEM,
    { role: "user", content: "bye" },
    {
      role: "assistant",
      content: OFFLINE_GOODBYE_TEXT,
      tool_calls: [{
        id: "c1",
        type: "function",
        function: { name: "end_session", arguments: "{}" },
      }],
    },
    { role: "tool", tool_call_id: "c1", content: "ended" },
  ]));
  assertEquals(afterTool.toolCalls, undefined);
  assert(typeof afterTool.text === "string" && afterTool.text.length > 0);

  const greeting = brain(request([SYSTEM]));
  assertEquals(greeting.toolCalls, undefined);
  assert(String(greeting.text).includes("goodbye"));

  const parts = brain(
    request([SYSTEM, { role: "user", content: [{ type: "text", text: "bye now" }] }]),
  );
  assertEquals(parts.toolCalls?.[0].name, "end_session");

  const chat = brain(request([SYSTEM, { role: "user", content: "tell me about the weather" }]));
  assertEquals(chat.toolCalls, undefined);

  const farewell = brain(request([
    { role: "system", content: "You are helpful.\nSay a friendly goodbye to the user." },
    { role: "user", content: "hello" },
    { role: "assistant", content: "Hi!" },
  ]));
  assertEquals(farewell.toolCalls, undefined);
  assert(/goodbye/i.test(String(farewell.text)));
});

Deno.test("SpeechDetector: one utterance per burst, gaps inside a burst do not split it", () => {
  const rate = 16000;
  const d = new SpeechDetector(rate);
  const voice = synthesizeVoice("one two three four", rate); // word pauses < 300 ms
  const events = [
    ...d.push(new Int16Array(rate / 2)),
    ...d.push(voice),
    ...d.push(new Int16Array(rate / 2)),
  ];
  assertEquals(events.map((e) => e.type), ["start", "end"]);
  const end = events[1];
  if (end.type !== "end") throw new Error("second event is not an end");
  assert(Math.abs(end.startS - 0.5) < 0.011);
  assert(end.endS <= 0.5 + voice.length / rate + 0.011);
  assertEquals(d.flush(), undefined);
});

Deno.test("jwt: verifyBearer checks signature, iss, sub, grant and expiry", async () => {
  const now = Math.floor(Date.now() / 1000);
  const good = { iss: KEY, sub: "agent", nbf: now, exp: now + 600, inference: { perform: true } };
  const check = async (claims: Record<string, unknown>, secret = SECRET) =>
    await verifyBearer(`Bearer ${await signTestToken(claims, secret)}`, KEY, SECRET);
  assertEquals(await check(good), undefined);
  assertEquals(await check(good, "other-secret"), "invalid token signature");
  assertEquals(await check({ ...good, iss: "nope" }), 'iss "nope" is not the api key');
  assertEquals(await check({ ...good, sub: "user" }), 'sub "user" is not "agent"');
  assertEquals(await check({ ...good, inference: {} }), "missing inference.perform grant");
  assertEquals(await check({ ...good, exp: now - 60 }), "token expired");
  assertEquals(await verifyBearer(null, KEY, SECRET), "missing Authorization header");
  assertEquals(await verifyBearer("Basic abc", KEY, SECRET), "Authorization is not a Bearer token");
});

Deno.test("gateway: accepts a hand-made valid token; waitFor sees past events and times out", async () => {
  const gw = await startGateway({ apiKey: KEY, apiSecret: SECRET });
  try {
    const now = Math.floor(Date.now() / 1000);
    const token = await signTestToken(
      { iss: KEY, sub: "agent", nbf: now, exp: now + 60, inference: { perform: true } },
      SECRET,
    );
    const res = await fetch(`${gw.url}/models`, { headers: { authorization: `Bearer ${token}` } });
    assertEquals(res.status, 200);
    assertEquals((await res.json()).object, "list");
    // Already logged: resolves at once.
    assertEquals((await gw.waitFor((e) => e.kind === "models_list", 10)).kind, "models_list");
    await assertRejects(
      () => gw.waitFor((e) => e.kind === "stt_final", 30),
      Error,
      "timed out after 30 ms",
    );
  } finally {
    await gw.close();
  }
});

Deno.test("close(): ends a stalled reply and open STT/TTS sockets under live plugins", async () => {
  const gw = await startGateway({ faults: { llm: "stall_mid_stream" } });
  const model = makeLlm(gw);
  const sttEngine = new inference.STT({
    model: "deepgram/nova-3-general",
    baseURL: gw.url,
    apiKey: KEY,
    apiSecret: SECRET,
  });
  const ttsEngine = new inference.TTS({
    model: "cartesia/sonic-3",
    baseURL: gw.url,
    apiKey: KEY,
    apiSecret: SECRET,
  });
  const sttStream = sttEngine.stream({ connOptions: NO_RETRY });
  const chat = model.chat({ chatCtx: userSays("hello"), connOptions: NO_RETRY });
  try {
    ttsEngine.prewarm(); // opens a pooled TTS socket
    await gw.waitFor((e) => e.kind === "stt_session", 5_000);
    await gw.waitFor((e) => e.kind === "tts_session", 5_000);
    await gw.waitFor((e) => e.kind === "fault", 5_000);
    const llmError = nextError(model, 5_000, "llm error after gateway close");
    const sttError = nextError(sttEngine, 5_000, "stt error after gateway close");
    const drained = within(
      (async () => {
        for await (const _ of chat) { /* partial text, then the close */ }
      })(),
      5_000,
      "stalled reply ends",
    );
    await within(gw.close(), 5_000, "gateway close");
    await drained;
    assertInstanceOf(await llmError, APIConnectionError);
    await sttError;
    assertEquals(logged(gw, "llm_done").length, 0, "the stalled reply never completed");
    assertEquals(logged(gw, "stt_closed").length, 1);
    assertEquals(logged(gw, "tts_closed").length, 1);
  } finally {
    chat.close();
    sttStream.close();
    await sttEngine.close();
    await ttsEngine.close();
    await model.aclose();
    await gw.close();
  }
});

Deno.test("stt: the default rotation continues after the queue; queueTranscript appends", async () => {
  const gw = await startGateway({ sttTranscripts: ["first"], sttDefaultTranscripts: ["x", "y"] });
  gw.queueTranscript("second");
  const engine = new inference.STT({
    model: "deepgram/nova-3-general",
    baseURL: gw.url,
    apiKey: KEY,
    apiSecret: SECRET,
  });
  const stream = engine.stream();
  try {
    const burst = [...synthesizeVoice("a spoken burst", 16000), ...new Int16Array(8000)];
    const pcm = Int16Array.from([...burst, ...burst, ...burst, ...burst]);
    for (let off = 0; off < pcm.length; off += 160) {
      stream.pushFrame(new AudioFrame(pcm.slice(off, off + 160), 16000, 1, 160));
    }
    const texts: string[] = [];
    await within(
      (async () => {
        for await (const ev of stream) {
          if (ev.type !== stt.SpeechEventType.FINAL_TRANSCRIPT) continue;
          texts.push(ev.alternatives?.[0].text ?? "");
          if (texts.length === 4) break;
        }
      })(),
      10_000,
      "four transcripts",
    );
    assertEquals(texts, ["first", "second", "x", "y"]);
  } finally {
    stream.close();
    await engine.close();
    await gw.close();
  }
});
