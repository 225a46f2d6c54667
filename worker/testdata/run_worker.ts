/**
 * Test entry: `deno run -A worker/testdata/run_worker.ts <command> [flags]` runs the worker with
 * the fixture agent, exactly as main.ts runs it with agent.ts.
 * @module
 */
import { fileURLToPath } from "node:url";
import { runWorkerCommand } from "../mod.ts";

await runWorkerCommand(Deno.args, {
  agentPath: fileURLToPath(new URL("./fixture_agent.ts", import.meta.url)),
});
