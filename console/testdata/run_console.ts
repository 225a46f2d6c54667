/**
 * Test harness: runs the real console with a stand-in agent module (instead
 * of main.ts), to exercise the failure paths an agent can take.
 * Usage: deno run -A run_console.ts <fake-agent.ts> [console flags...]
 *
 * @module
 */
import { runConsoleApp } from "../mod.ts";

const [agent, ...args] = Deno.args;
Deno.exit(await runConsoleApp(args, { mainModule: new URL(agent, import.meta.url).pathname }));
