/**
 * The agent's session events, as the console shows them: the agent's state,
 * what the user said (typed or heard), the agent's replies with their
 * latency, tool calls and the agent's own reports; and the turns counted for
 * the summary.
 *
 * @module
 */
import type { AgentSession as pb } from "@livekit/protocol";
import { parseReport } from "../core/console_report.ts";
import type { HeardView } from "./heard.ts";
import type { LatencyLog } from "./latency.ts";
import type { Talk } from "./talk.ts";
import { TurnPartsTracker } from "./turn_view.ts";
import type { AgentStateName, ConsoleUi } from "./ui.ts";

/** The agent states of the console protocol, by their protobuf number. */
const STATE_NAMES: Record<number, AgentStateName> = {
  0: "initializing",
  1: "idle",
  2: "listening",
  3: "thinking",
  4: "speaking",
};

/** The text of a chat message (its text parts joined, trimmed). */
function chatText(msg: pb.ChatMessage): string {
  return msg.content.map((c) => c.payload.case === "text" ? c.payload.value : "").join("").trim();
}

/** What {@link EventView} shows events on and tells; the run creates some of it later. */
export interface EventViewDeps {
  /** The terminal UI. */
  ui: ConsoleUi;
  /** Latency of each reply, shared with the run (audio arrival, the summary). */
  latency: LatencyLog;
  /** The audio path, once it exists. */
  talk(): Talk | undefined;
  /** What the agent's speech was heard as, once the session runs. */
  heard(): HeardView | undefined;
  /** True once the console asked the agent to stop. */
  stopRequested(): boolean;
  /** The agent called `end_session`. */
  onEndSession(): void;
}

/** Shows the agent's session events and counts the turns (see the module doc). */
export class EventView {
  /** The parts of each spoken turn (the run sets it once the agent's turn detection is known). */
  turnParts: TurnPartsTracker = new TurnPartsTracker();
  #deps: EventViewDeps;
  #userTurns = 0;
  #agentTurns = 0;
  #agentSpokeAfterStop = false;
  #toolCalls: string[] = [];
  #echoed: string[] = [];

  /** A view over `deps`; it shows nothing until events come. */
  constructor(deps: EventViewDeps) {
    this.#deps = deps;
  }

  /** Turns of the user, typed or heard. */
  get userTurns(): number {
    return this.#userTurns;
  }

  /** Replies of the agent the user got (a reply the agent retries counts once). */
  get agentTurns(): number {
    return this.#agentTurns;
  }

  /** True when the agent was heard after the console asked it to stop (its goodbye). */
  get agentSpokeAfterStop(): boolean {
    return this.#agentSpokeAfterStop;
  }

  /** Shows a typed line as the user's turn when it is sent (its echo from the agent is not shown again). */
  typed(text: string): void {
    this.#echoed.push(text);
    this.#userTurns++;
    this.#deps.ui.user(text);
    this.#deps.latency.typedTurnSent();
  }

  /** Shows one event of the agent's session. */
  onEvent(ev: pb.AgentSessionEvent): void {
    const { ui, latency } = this.#deps;
    const talk = this.#deps.talk();
    const heard = this.#deps.heard();
    const e = ev.event;
    // Completes on the reply's own `conversationItemAdded`, handled below.
    const turnParts = this.turnParts.push(ev);
    switch (e.case) {
      case "agentStateChanged": {
        const state = STATE_NAMES[e.value.newState] ?? "idle";
        ui.state(state);
        talk?.agentState(state);
        break;
      }
      case "userInputTranscribed":
        if (!e.value.isFinal) ui.partial(e.value.transcript);
        break;
      case "conversationItemAdded": {
        const item = e.value.item?.item;
        if (item?.case !== "message") break;
        const text = chatText(item.value);
        if (!text) break;
        if (item.value.role === 2 /* USER */) {
          heard?.flush();
          const i = this.#echoed.indexOf(text);
          if (i >= 0) {
            this.#echoed.splice(i, 1); // typed: shown when sent
          } else {
            this.#userTurns++;
            ui.user(text);
            talk?.userTurn();
          }
        } else if (item.value.role === 3 /* ASSISTANT */) {
          const shown = heard
            ? heard.agentMessage(text, item.value.interrupted)
            : (ui.agent(text, item.value.interrupted), "heard");
          if (shown !== "retry") {
            this.#agentTurns++;
            ui.latency(latency.reply(item.value.metrics, turnParts, talk?.repliesUnpaced));
            talk?.replied();
          }
          if (shown === "heard" && this.#deps.stopRequested()) {
            this.#agentSpokeAfterStop = true;
          }
        }
        break;
      }
      case "functionToolsExecuted": {
        heard?.flush();
        const outputs = new Map(e.value.functionCallOutputs.map((o) => [o.callId, o]));
        for (const call of e.value.functionCalls) {
          const out = outputs.get(call.callId);
          this.#toolCalls.push(call.name);
          if (call.name === "end_session") this.#deps.onEndSession();
          ui.tool(call.name, call.arguments, out?.output ?? "", out?.isError ?? false);
        }
        talk?.replied();
        break;
      }
      case "error":
        // Names only the model ("inference.TTS"); the agent's own report of the
        // failed turn says why, in one line (debugMessage below).
        break;
      case "debugMessage": {
        const report = parseReport(e.value);
        if (report) heard?.report(report);
        break;
      }
      default:
        break;
    }
  }
}
