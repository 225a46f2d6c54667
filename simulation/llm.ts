/**
 * The simulated LLM: `POST /v1/chat/completions` as the OpenAI SDK inside `inference.LLM`
 * speaks it (SSE `chat.completion.chunk`s, tool calls, usage, `[DONE]`), replies decided by a
 * {@link LlmBrain}, with the faults of `LlmFault` (`events.ts`).
 *
 * @module
 */
import type { ChatMessage, LlmBrain, LlmReply, LlmRequest, ToolDefinition } from "./brain.ts";
import { type Endpoint, jsonResponse, sleep } from "./endpoint.ts";
import type { NewGatewayEvent } from "./events.ts";

const encoder = new TextEncoder();

/** One SSE event of a reply and what to log once it has been sent. */
interface SseItem {
  data: string;
  sent?: NewGatewayEvent;
}

function splitWords(text: string): string[] {
  // Keep the spaces attached so the chunks concatenate back to the exact text.
  return text.match(/\S+\s*|\s+/g) ?? [];
}

function splitArguments(args: string): string[] {
  if (args.length <= 4) return [args];
  const a = Math.floor(args.length / 3);
  const b = Math.floor((2 * args.length) / 3);
  return [args.slice(0, a), args.slice(a, b), args.slice(b)];
}

/** Answers one chat-completions request: the brain's reply as an SSE stream, or an `LlmFault`. */
export async function serveChat(
  req: Request,
  ep: Endpoint,
  brain: LlmBrain,
): Promise<Response> {
  let body: Record<string, unknown>;
  try {
    body = await req.json();
  } catch {
    return jsonResponse(400, {
      error: { message: "body is not JSON", type: "invalid_request_error" },
    });
  }
  const id = `chatcmpl-standin-${ep.nextId()}`;
  const request: LlmRequest = {
    model: String(body.model ?? ""),
    messages: Array.isArray(body.messages) ? body.messages as ChatMessage[] : [],
    tools: Array.isArray(body.tools) ? body.tools as ToolDefinition[] : [],
    body,
  };
  ep.emit({
    kind: "llm_request",
    id,
    model: request.model,
    messages: request.messages,
    tools: request.tools.map((t) => t.function?.name ?? "?"),
    firstTokenLatencyMs: ep.latency.llmFirstTokenMs,
  });
  const fault = ep.faults.llm;
  if (fault === "error") {
    ep.fired("llm", fault);
    return jsonResponse(500, {
      error: { message: "stand-in: injected LLM error", type: "server_error", code: "injected" },
    });
  }
  let reply: LlmReply;
  // A brain may wait on a test; the gateway closing must still end this request.
  const lifetime = ep.lifetime;
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Error("gateway closed"));
    if (lifetime.aborted) onAbort();
    lifetime.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    reply = await Promise.race([Promise.resolve(brain(request)), aborted]);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    ep.emit({ kind: "error", where: "llm brain", message });
    return jsonResponse(500, {
      error: { message: `stand-in brain failed: ${message}`, type: "server_error" },
    });
  } finally {
    lifetime.removeEventListener("abort", onAbort);
  }
  const events = sseEvents(id, request, reply, () => ep.nextId());
  const cut = fault ? Math.max(1, Math.floor(events.length / 2)) : events.length;
  const streamAbort = new AbortController();
  let controllerRef: ReadableStreamDefaultController<Uint8Array> | undefined;
  // The gateway closing ends an open reply (a stalled one included) with an error.
  const onLifetimeAbort = () => {
    streamAbort.abort();
    try {
      controllerRef?.error(new Error("stand-in gateway closed"));
    } catch { /* already closed */ }
  };
  ep.lifetime.addEventListener("abort", onLifetimeAbort, { once: true });
  const signal = streamAbort.signal;
  const done = () => {
    ep.lifetime.removeEventListener("abort", onLifetimeAbort);
  };
  const pump = async (c: ReadableStreamDefaultController<Uint8Array>) => {
    if (ep.latency.llmFirstTokenMs > 0 && !await sleep(ep.latency.llmFirstTokenMs, signal)) {
      return;
    }
    for (let i = 0; i < events.length; i++) {
      if (signal.aborted) return;
      if (i === cut && fault === "stall_mid_stream") {
        ep.fired("llm", fault, `after ${i} of ${events.length} events`);
        return; // leave the response open: the gateway's close errors it
      }
      if (i === cut && fault === "drop_mid_stream") {
        ep.fired("llm", fault, `after ${i} of ${events.length} events`);
        // Let the events already queued reach the client first, so it sees a mid-reply drop.
        if (!await sleep(50, signal)) return;
        c.error(new Error("stand-in: injected LLM drop"));
        done();
        return;
      }
      c.enqueue(encoder.encode(events[i].data));
      const sent = events[i].sent;
      if (sent) ep.emit(sent);
    }
    c.close();
    done();
  };
  const stream = new ReadableStream<Uint8Array>({
    start: (c) => {
      controllerRef = c;
      pump(c).catch((err) => {
        ep.emit({ kind: "error", where: "llm stream", message: String(err) });
      });
    },
    cancel: () => {
      // The client went away (abort/interruption): stop producing.
      streamAbort.abort();
      done();
    },
  });
  return new Response(stream, {
    status: 200,
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      "x-request-id": id,
    },
  });
}

/**
 * The SSE events of one reply, in OpenAI's order. Each may carry the log event to record once
 * it is actually sent, so a stalled or dropped reply does not log what never left.
 */
function sseEvents(
  id: string,
  request: LlmRequest,
  reply: LlmReply,
  nextId: () => number,
): SseItem[] {
  const created = Math.floor(Date.now() / 1000);
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    `data: ${
      JSON.stringify({
        id,
        object: "chat.completion.chunk",
        created,
        model: request.model,
        system_fingerprint: null,
        choices,
        ...extra,
      })
    }\n\n`;
  const delta = (d: Record<string, unknown>, finish: string | null = null) =>
    chunk([{ index: 0, delta: d, logprobs: null, finish_reason: finish }]);
  const out: SseItem[] = [{ data: delta({ role: "assistant", content: "" }) }];
  const textChunks = reply.text === undefined
    ? []
    : typeof reply.text === "string"
    ? splitWords(reply.text)
    : reply.text;
  const text = textChunks.join("");
  for (const t of textChunks) out.push({ data: delta({ content: t }) });
  if (text) out[out.length - 1].sent = { kind: "llm_text", id, text };
  const calls = reply.toolCalls ?? [];
  calls.forEach((call, index) => {
    const callId = call.id ?? `call_standin_${nextId()}`;
    const args = call.arguments ?? "{}";
    out.push({
      data: delta({
        tool_calls: [{
          index,
          id: callId,
          type: "function",
          function: { name: call.name, arguments: "" },
        }],
      }),
    });
    for (const piece of splitArguments(args)) {
      out.push({ data: delta({ tool_calls: [{ index, function: { arguments: piece } }] }) });
    }
    out[out.length - 1].sent = {
      kind: "llm_tool_call",
      id,
      callId,
      name: call.name,
      arguments: args,
    };
  });
  const finishReason = calls.length > 0 ? "tool_calls" : "stop";
  out.push({ data: delta({}, finishReason) });
  const promptChars = request.messages.reduce((n, m) => n + JSON.stringify(m).length, 0);
  const promptTokens = Math.ceil(promptChars / 4);
  const completionTokens = textChunks.length + calls.length * 8;
  out.push({
    data: chunk([], {
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
        prompt_tokens_details: { cached_tokens: 0 },
      },
    }),
  });
  out.push({ data: "data: [DONE]\n\n", sent: { kind: "llm_done", id, finishReason } });
  return out;
}
