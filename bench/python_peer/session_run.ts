/**
 * The recipe's exit flow through livekit-agents' own test utility (`AgentSession.run()`, text
 * only: no room, no console, no TTS): `session_run_probe.py` in the peer's environment, against
 * the loopback gateway with the same scripted LLM as the console runs.
 *
 * @module
 */
import { startGateway } from "../../simulation/mod.ts";
import { benchBrain } from "../console_run.ts";
import { dirname, fromFileUrl, join } from "../node_peer/paths.ts";
import { peerEnv } from "./launcher.ts";
import type { PythonPeer } from "./setup.ts";

const PROBE = join(dirname(fromFileUrl(import.meta.url)), "session_run_probe.py");

/** One `session.run(user_input=...)`, as the probe saw it. */
export interface SessionRunTurn {
  returned: boolean;
  ms: number;
  /** Types of the run's events when it returned (`message`, `function_call`...). */
  events?: string[];
  /** Exit-flow tasks still pending when it did not. */
  pending?: string[];
}

/** What the probe reported: the "hello" and "goodbye" turns. */
export interface PythonSessionRun {
  hello: SessionRunTurn;
  goodbye?: SessionRunTurn;
  /** What the gateway's LLM was asked, in order (by the last message's role). */
  llmRequests: number;
}

/** Runs the probe once; each turn bounded by `boundS`, the whole run by `boundS * 3`. */
export async function pythonSessionRun(peer: PythonPeer, boundS = 15): Promise<PythonSessionRun> {
  const key = "bench-key";
  const secret = crypto.randomUUID();
  const gw = await startGateway({ llm: benchBrain(), apiKey: key, apiSecret: secret });
  try {
    const child = new Deno.Command(peer.python, {
      args: [PROBE, String(boundS)],
      cwd: peer.dir, // where the recipe's copy is, so `import exit_message` finds it
      env: {
        ...peerEnv({ apiKey: key, apiSecret: secret, inferenceUrl: gw.url }),
        PYTHONPATH: peer.dir,
      },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), boundS * 3 * 1000);
    const out = await child.output();
    clearTimeout(timer);
    const last = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
    if (!last.startsWith("{")) {
      throw new Error(
        `session run probe failed (${out.code}): ${
          new TextDecoder().decode(out.stderr).slice(-1500)
        }`,
      );
    }
    return {
      ...JSON.parse(last),
      llmRequests: gw.log.filter((e) => e.kind === "llm_request").length,
    };
  } finally {
    await gw.close();
  }
}
