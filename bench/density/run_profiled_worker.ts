/**
 * `deno run -A bench/density/run_profiled_worker.ts <command> [flags]`: the worker exactly as
 * main.ts runs it, with the profiled agent (`profiled_agent.ts`) in its job processes.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { runWorkerCommand } from "../../worker/mod.ts";

await runWorkerCommand(Deno.args, {
  agentPath: fileURLToPath(new URL("./profiled_agent.ts", import.meta.url)),
});
