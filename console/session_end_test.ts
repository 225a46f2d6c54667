import { assert, assertEquals } from "@std/assert";
import { isAlive, listDescendants } from "../core/process_tree.ts";
import { bounded, until } from "../testing/wait.ts";
import { AgentProcess } from "./agent_process.ts";
import { SessionEnd } from "./session_end.ts";
import { ConsoleUi } from "./ui.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

/** A real agent child that ignores SIGINT (a stuck close) and has a grandchild in its group. */
async function stuckAgent(): Promise<{ agent: AgentProcess; grandchild: number }> {
  const script = `
    Deno.addSignalListener("SIGINT", () => console.log("ignored"));
    new Deno.Command("sleep", { args: ["30"] }).spawn();
    console.log("ready");
    setInterval(() => {}, 1000);`;
  const ready = Promise.withResolvers<void>();
  const agent = AgentProcess.spawn({
    cmd: Deno.execPath(),
    args: ["eval", script],
    onLine: (l) => l === "ready" && ready.resolve(),
  });
  await bounded(ready.promise, 10_000, () => "the fake agent did not start");
  const grandchild = await until(() => listDescendants(agent.pid)[0], 5_000, "the grandchild");
  return { agent, grandchild };
}

/**
 * Ends a session both ways the console can (the user's Ctrl+C, the agent's own
 * end_session), lets the stop bound fire (the bound's timer is the console's;
 * the test fires it instead of waiting 37 s), and checks the agent was ended by
 * the one stop path: its group killed by PID, the agent reaped, its pipes closed.
 */
for (const how of ["beginStop", "agentEnding"] as const) {
  Deno.test({
    name:
      `session_end: past the stop bound (${how}), the agent is stopped by the one stop path: group ended by PID, reaped, closed`,
    ...opts,
    async fn() {
      const { agent, grandchild } = await stuckAgent();
      const out: string[] = [];
      const ui = new ConsoleUi({
        tty: false,
        write: (s) => out.push(s),
        writeErr: (s) => out.push(s),
      });
      const bounds: (() => void)[] = [];
      const end = new SessionEnd({
        ui,
        talk: () => undefined,
        agent: () => agent,
        later: (fn) => bounds.push(fn),
      });
      try {
        end.phase = "running";
        if (how === "beginStop") end.beginStop("you pressed Ctrl+C", { kind: "key" });
        else end.agentEnding();
        assertEquals(bounds.length, 1, "one stop bound armed");
        bounds[0]();
        await until(() => agent.closed, 15_000, "the agent stopped, reaped and closed");
        assert(agent.exited);
        // SIGKILLed with its group, it ends within moments (its pipes can close first).
        await until(
          () => !isAlive(grandchild) || undefined,
          2_000,
          "the agent's grandchild to end after the stop",
        );
        assert(out.join("").includes("did not finish within"), out.join(""));
      } finally {
        await agent.close();
      }
    },
  });
}
