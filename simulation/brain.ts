/**
 * The LLM side of the stand-in: what a `/chat/completions` request looks like to a brain, what a
 * brain answers, and the scripted {@link offlineBrain} used by `console --offline`.
 *
 * @module
 */

/** One OpenAI-format chat message as the inference LLM plugin sends it. */
export interface ChatMessage {
  role: "system" | "developer" | "user" | "assistant" | "tool" | string;
  /** A string, or OpenAI content parts (`{type:"text", text}` ...); `null` for pure tool calls. */
  content?: string | Array<{ type: string; text?: string }> | null;
  tool_calls?: Array<{ id: string; type: string; function: { name: string; arguments: string } }>;
  tool_call_id?: string;
}

/** One OpenAI-format function tool offered by the request. */
export interface ToolDefinition {
  type: string;
  function: { name: string; description?: string; parameters?: unknown };
}

/** The parsed `/chat/completions` request a brain decides on. */
export interface LlmRequest {
  /** Model as sent, provider-prefixed (e.g. `openai/gpt-4.1-mini`). */
  model: string;
  messages: ChatMessage[];
  tools: ToolDefinition[];
  /** The whole JSON body, for anything else a test wants to look at. */
  body: Record<string, unknown>;
}

/** A tool call the reply should contain. `arguments` is sent verbatim, so it may be malformed. */
export interface LlmToolCall {
  name: string;
  /** JSON arguments string; default `"{}"`. */
  arguments?: string;
  /** Call id; default `call_<n>` unique within the gateway. */
  id?: string;
}

/** A brain's reply script: text (streamed first) and/or tool calls (streamed after the text). */
export interface LlmReply {
  /** A string is streamed word by word; an array is streamed as exactly those chunks. */
  text?: string | string[];
  toolCalls?: LlmToolCall[];
}

/** Decides each `/chat/completions` reply. May be async (e.g. to wait on a test's signal). */
export type LlmBrain = (request: LlmRequest) => LlmReply | Promise<LlmReply>;

/** The plain text of a message, joining text parts. */
export function messageText(message: ChatMessage): string {
  const c = message.content;
  if (typeof c === "string") return c;
  if (Array.isArray(c)) return c.map((p) => (typeof p.text === "string" ? p.text : "")).join("");
  return "";
}

/** The last message that is not system/developer instructions, if any. */
export function lastTurnMessage(request: LlmRequest): ChatMessage | undefined {
  for (let i = request.messages.length - 1; i >= 0; i--) {
    const r = request.messages[i].role;
    if (r !== "system" && r !== "developer") return request.messages[i];
  }
  return undefined;
}

/** True when the request offers a function tool called `name`. */
export function offersTool(request: LlmRequest, name: string): boolean {
  return request.tools.some((t) => t.function?.name === name);
}

const GOODBYE =
  /\b(good\s*-?\s*bye|bye(\s*-?\s*bye)?|stop|that'?s\s+(all|it)|hang\s*up|end\s+(the\s+)?(call|session|conversation)|see\s+you|farewell|i'?m\s+done|quit|exit)\b/i;

/** True when `text` sounds like the user wants to end the conversation. */
export function soundsLikeGoodbye(text: string): boolean {
  return GOODBYE.test(text);
}

/** What {@link offlineBrain} says alongside its `end_session` call. */
export const OFFLINE_GOODBYE_TEXT = "It was nice talking to you.";

/**
 * The scripted brain of `console --offline`: short, friendly, deterministic replies.
 *
 * Decision on the last non-system message:
 * - user message that says goodbye / bye / stop / that's all / hang up / end the call ...:
 *   text {@link OFFLINE_GOODBYE_TEXT} plus an `end_session` call with `{}` in the same reply,
 *   when the request offers a tool named `end_session` (else the text plus "Goodbye!");
 * - tool result (e.g. after `end_session` ran, when `onExit` asks for a goodbye): a closing line,
 *   never another tool call, so the exit flow cannot loop;
 * - any other user message: a brief reply that mentions the offline mode and how to leave;
 * - no user message yet (the greeting turn): a welcome line;
 * - assistant message last (a `generateReply` with only instructions): a farewell when the
 *   instructions (system message) ask for a goodbye, else a short follow-up question.
 *
 * Returns a synchronous {@link LlmBrain}, so tests can call it directly.
 */
export function offlineBrain(): (request: LlmRequest) => LlmReply {
  let turn = 0;
  return (request) => {
    const last = lastTurnMessage(request);
    const hasUser = request.messages.some((m) => m.role === "user");
    if (!last || !hasUser) {
      return {
        text: "Hi! I'm the offline demo agent, running on a local stand-in. " +
          "Talk to me, and say goodbye whenever you want to end the call.",
      };
    }
    if (last.role === "tool") return { text: "Take care, goodbye!" };
    if (last.role === "user") {
      const said = messageText(last).trim();
      if (soundsLikeGoodbye(said)) {
        return offersTool(request, "end_session")
          ? { text: OFFLINE_GOODBYE_TEXT, toolCalls: [{ name: "end_session", arguments: "{}" }] }
          : { text: `${OFFLINE_GOODBYE_TEXT} Goodbye!` };
      }
      turn++;
      if (/\b(hi|hello|hey)\b/i.test(said)) {
        return { text: "Hello! Nice to hear you. What would you like to talk about?" };
      }
      if (said.endsWith("?")) {
        return {
          text: "Good question. I'm running offline, so my answers are scripted. " +
            "Say goodbye when you're done.",
        };
      }
      const replies = [
        "I hear you. I'm a scripted offline agent, so I keep it short.",
        "Got it. Tell me more, or say goodbye to end the call.",
        "Interesting! When you want to finish, just say goodbye.",
      ];
      return { text: replies[(turn - 1) % replies.length] };
    }
    const system = request.messages.filter((m) => m.role === "system" || m.role === "developer")
      .map(messageText).join("\n");
    const lastLine = system.trim().split("\n").pop() ?? "";
    if (/goodbye|farewell|bye|exit/i.test(lastLine)) return { text: "Goodbye, and take care!" };
    return { text: "Is there anything else I can help you with?" };
  };
}
