/**
 * How a console session ends, from the console's side: the run's phase, who
 * ended it (the agent's `end_session`, the user's Ctrl+C or a signal, the end
 * of the input), the one SIGINT that lets the agent say goodbye, the bound on
 * the agent's stop, and the second Ctrl+C that quits at once.
 *
 * @module
 */
import { CONSOLE_EXIT_GRACE_MS, SESSION_CLOSE_TIMEOUT_MS } from "../core/bounds.ts";
import type { AgentProcess } from "./agent_process.ts";
import { INTERRUPT_EXIT } from "./exit_codes.ts";
import { type EndingCause, quitHint } from "./keys.ts";
import type { Talk } from "./talk.ts";
import type { ConsoleUi } from "./ui.ts";

/**
 * After a SIGINT, how long the agent gets before SIGKILL: its own worst case
 * (the session-close bound plus its exit grace) and a second of slack, so the
 * console never kills an agent that is still within its bounds.
 */
const AGENT_STOP_BOUND_MS = SESSION_CLOSE_TIMEOUT_MS + CONSOLE_EXIT_GRACE_MS + 1_000;

/** Past the stop bound, how long the agent gets after its last SIGINT before SIGKILL. */
const STOP_KILL_AFTER_MS = 3_000;

/** Where a console run is: the session's end is decided by the phase it comes in. */
export type Phase = "starting" | "running" | "ending" | "done";

/** What {@link SessionEnd} acts on; the run creates some of it later, hence the getters. */
export interface SessionEndDeps {
  /** The terminal UI. */
  ui: ConsoleUi;
  /** The audio path, once it exists. */
  talk(): Talk | undefined;
  /** The agent child, once it was started. */
  agent(): AgentProcess | undefined;
  /** Arms a timer the run clears when it is cleaned up. */
  later(fn: () => void, ms: number): void;
}

/** The end-of-session logic of one console run (see the module doc). */
export class SessionEnd {
  /** Where the run is; the run itself moves it to `running` and `done`. */
  phase: Phase = "starting";
  /** True once the user insisted (a second Ctrl+C, or one before the agent connected). */
  quitNow = false;
  #deps: SessionEndDeps;
  #endedBy?: string;
  #stopRequestedAt?: number;
  #hardQuit = Promise.withResolvers<void>();
  #agentInitiated = false;
  #interruptArmed = false;
  #signals: [Deno.Signal, () => void][] = [];

  /** The end logic over `deps`; signals are routed once {@link installSignals} is called. */
  constructor(deps: SessionEndDeps) {
    this.#deps = deps;
  }

  /** Why the session ended, in words, once something ended it. */
  get endedBy(): string | undefined {
    return this.#endedBy;
  }

  /** When the console asked the agent to stop (`performance.now()`), if it did. */
  get stopRequestedAt(): number | undefined {
    return this.#stopRequestedAt;
  }

  /** Resolves when the user insisted on quitting at once. */
  get hardQuit(): Promise<void> {
    return this.#hardQuit.promise;
  }

  /** Routes SIGINT, SIGTERM and SIGHUP (SIGINT and SIGBREAK on Windows) to {@link interrupt}. */
  installSignals(): void {
    const sigs: Deno.Signal[] = Deno.build.os === "windows"
      ? ["SIGINT", "SIGBREAK"]
      : ["SIGINT", "SIGTERM", "SIGHUP"];
    for (const sig of sigs) {
      const h = () =>
        this.interrupt(
          sig === "SIGINT" ? "you pressed Ctrl+C" : `the console got ${sig}`,
          { kind: "signal", signal: sig },
        );
      try {
        Deno.addSignalListener(sig, h);
        this.#signals.push([sig, h]);
      } catch {
        // signal not supported here
      }
    }
  }

  /** Removes the signal listeners; safe to call twice. */
  removeSignals(): void {
    for (const [sig, h] of this.#signals) {
      try {
        Deno.removeSignalListener(sig, h);
      } catch {
        // ignore
      }
    }
    this.#signals = [];
  }

  /**
   * The agent called end_session: its goodbye and close are on the way. No
   * signal is needed; only a bound in case the close never completes.
   */
  agentEnding(): void {
    this.#endedBy ??= "the agent ended the session (end_session)";
    if (this.phase !== "running") return;
    this.phase = "ending";
    this.#agentInitiated = true;
    this.#deps.ui.setHint("");
    this.#deps.ui.setInput(undefined);
    this.#deps.talk()?.stop();
    this.#armStopBound();
  }

  /**
   * The one stop bound of both endings (the agent's, and the user's or a
   * signal's): past it the agent gets one more SIGINT (agents-js then exits
   * at once, ending its children), SIGKILL to its group after
   * {@link STOP_KILL_AFTER_MS}, and `AgentProcess.stop` then ends what is left
   * of the group by PID and reaps it.
   */
  #armStopBound(): void {
    this.#deps.later(() => {
      const agent = this.#deps.agent();
      if (agent && !agent.exited) {
        this.#deps.ui.warn(
          `the agent did not finish within ${AGENT_STOP_BOUND_MS / 1000} s; stopping it`,
        );
        void agent.stop({ killAfterMs: STOP_KILL_AFTER_MS });
      }
    }, AGENT_STOP_BOUND_MS);
  }

  /**
   * Ctrl+C or a signal: while running, ends the session gracefully; while the
   * agent is ending it, the first one only says so; otherwise quits at once.
   */
  interrupt(reason: string, cause: EndingCause): void {
    if (this.phase === "running") {
      this.beginStop(reason, cause);
      return;
    }
    if (this.phase === "ending" && this.#agentInitiated && !this.#interruptArmed) {
      this.#interruptArmed = true;
      this.#deps.ui.info("the agent is already ending the session (Ctrl+C again to quit at once)");
      return;
    }
    // Starting, or already ending: a second Ctrl+C quits at once.
    this.quitNow = true;
    this.#hardQuit.resolve();
  }

  /** Ends a running session: the agent gets one SIGINT (its goodbye), then the stop bound. */
  beginStop(reason: string, cause: EndingCause): void {
    if (this.phase !== "running") return;
    const { ui } = this.#deps;
    this.phase = "ending";
    this.#endedBy ??= reason;
    this.#stopRequestedAt = performance.now();
    ui.setHint("");
    ui.setInput(undefined);
    // Offer a key only where one can reach the console (not to a pipe).
    const terminal = ui.tty || Deno.stdin.isTerminal();
    ui.info(`ending the session; the agent says goodbye${quitHint(cause, terminal)}`);
    this.#deps.talk()?.stop();
    // One SIGINT: agents-js closes the session, which runs onExit ("Goodbye!").
    this.#deps.agent()?.signal("SIGINT");
    this.#armStopBound();
  }

  /** Quits at once: the agent (and anything it forked) is killed. */
  async quit(): Promise<number> {
    this.#deps.ui.finish();
    this.#deps.ui.warn("quit at once; the agent was stopped");
    await this.#deps.agent()?.kill();
    return INTERRUPT_EXIT;
  }
}
