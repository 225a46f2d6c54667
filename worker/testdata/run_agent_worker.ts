/**
 * Test entry: `deno run -A worker/testdata/run_agent_worker.ts AGENT_MODULE <command> [flags]`
 * runs the worker exactly as main.ts does, with another agent module (a variant of the real agent).
 * @module
 */
import { fileURLToPath } from "node:url";
import { runWorkerCommand } from "../mod.ts";

const [agent, ...args] = Deno.args;
await runWorkerCommand(args, { agentPath: fileURLToPath(new URL(agent, import.meta.url)) });
