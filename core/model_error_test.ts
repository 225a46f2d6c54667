import { APIConnectionError, APIStatusError } from "@livekit/agents";
import { assertEquals } from "@std/assert";
import {
  errorMessage,
  explainModelError,
  isConnectionFailure,
  probeGateway,
} from "./model_error.ts";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("a connection failure names the gateway and what a connect to it says, in one line", async () => {
  const url = `http://127.0.0.1:${freePort()}/v1`;
  const line = await explainModelError(
    "llm",
    new APIStatusError({ message: "Connection error.", options: { statusCode: -1 } }),
    url,
  );
  assertEquals(line, `the LLM failed: Connection error. (gateway ${url}: connection refused)`);
});

Deno.test("the probe tells a listening gateway from a closed port", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  try {
    const accepted = listener.accept().then((c) => c.close());
    assertEquals(await probeGateway(`http://127.0.0.1:${port}/v1`), "it accepts connections");
    await accepted;
  } finally {
    listener.close();
  }
  assertEquals(await probeGateway(`ws://127.0.0.1:${port}/v1`), "connection refused");
  assertEquals(await probeGateway("not a url"), "not a valid URL");
});

Deno.test("an HTTP failure keeps its status and is not probed; secrets in the gateway URL are redacted", async () => {
  const error = new APIStatusError({ message: "Internal error", options: { statusCode: 500 } });
  assertEquals(errorMessage(error), "Internal error (HTTP 500)");
  assertEquals(isConnectionFailure(error), false);
  assertEquals(
    await explainModelError("tts", error, "http://k:secret@127.0.0.1:1/v1?access_token=secret"),
    "the TTS failed: Internal error (HTTP 500) (gateway http://***@127.0.0.1:1/v1?access_token=***)",
  );
  assertEquals(
    isConnectionFailure(
      new APIConnectionError({ message: "Error connecting to LiveKit WebSocket" }),
    ),
    true,
  );
  assertEquals(await explainModelError("stt", new Error("boom")), "the STT failed: boom");
});
