/**
 * exit-message: the command line.
 *
 * - `console` without `--connect-addr`: the built-in terminal console (broker + agent).
 * - `console --connect-addr HOST:PORT`: the agent's half, exactly as agents-js documents (for `lk console`).
 * - `start`, `dev`, `connect --room NAME`: worker modes, as agents-js documents.
 * - `keeper`: the call keeper, a webhook endpoint that replaces agents lost mid-call (keeper/).
 * - `--help` (alone or after a command): this project's help, exit 0.
 *
 * `.env` is read here at run time (the environment wins over the file), and
 * every user mistake ends as one line on stderr with exit status 2.
 *
 * @module
 */
import { cli, ServerOptions } from "@livekit/agents";
import { fileURLToPath } from "node:url";
import { parseConnectAddr, readAgentConfig, requireCredentials } from "./core/config.ts";
import { loadEnvFile } from "./core/env_file.ts";
import { PARENT_PIPE_ENV, watchParentPipe } from "./core/parent_pipe.ts";
import { USAGE_EXIT_CODE, UserError } from "./core/errors.ts";
import { closestOption } from "./core/unknown_option.ts";
import { COMMANDS, MAIN_HELP, wantsHelp, workerHelp } from "./help.ts";
import type { WorkerCommand } from "./worker/options.ts";

/** Absolute path of the agent module agents-js imports in every job process. */
export const AGENT_MODULE = fileURLToPath(new URL("./agent.ts", import.meta.url));

/** Value of `--name VALUE` or `--name=VALUE` in `args`, if present. */
export function flagValue(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name) return args[i + 1];
    if (args[i].startsWith(`${name}=`)) return args[i].slice(name.length + 1);
  }
  return undefined;
}

/** Runs the command line; resolves only for commands that return (agents-js exits by itself). */
export async function main(args: string[]): Promise<void> {
  const command = args[0];
  // Help first: it must work whatever .env or the environment hold.
  if (command === undefined) {
    console.error(MAIN_HELP);
    Deno.exit(USAGE_EXIT_CODE);
  }
  if (command === "--help" || command === "-h" || command === "help") {
    console.log(MAIN_HELP);
    Deno.exit(0);
  }
  if (!(COMMANDS as readonly string[]).includes(command)) {
    const near = closestOption(command, COMMANDS);
    throw new UserError(
      `unknown command "${command}"; ${
        near ? `did you mean ${near}? ` : ""
      }use console, start, dev, connect or keeper (see main.ts --help)`,
    );
  }
  if (wantsHelp(args.slice(1))) {
    if (command === "console") {
      const { HELP } = await import("./console/options.ts");
      console.log(HELP);
    } else if (command === "keeper") {
      const { keeperHelp } = await import("./keeper/mod.ts");
      console.log(keeperHelp());
    } else console.log(workerHelp(command as WorkerCommand));
    Deno.exit(0);
  }
  loadEnvFile();
  if (command === "keeper") {
    const { runKeeperCommand } = await import("./keeper/mod.ts");
    await runKeeperCommand(args.slice(1));
  }
  // Fail fast on a malformed setting, before a worker registers or a console starts.
  readAgentConfig();
  if (command === "console") {
    const addr = flagValue(args, "--connect-addr");
    if (addr === undefined) {
      const { runConsoleApp } = await import("./console/mod.ts");
      Deno.exit(await runConsoleApp(args.slice(1), { mainModule: fileURLToPath(import.meta.url) }));
    }
    parseConnectAddr(addr);
    requireCredentials();
    if (Deno.env.get(PARENT_PIPE_ENV) === "1") void watchParentPipe();
  }
  if (command === "start" || command === "dev" || command === "connect") {
    const { runWorkerCommand } = await import("./worker/mod.ts");
    await runWorkerCommand(args, { agentPath: AGENT_MODULE });
    return;
  }
  cli.runApp(new ServerOptions({ agent: AGENT_MODULE }));
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    console.error(`error: ${error.message}`);
    Deno.exit(USAGE_EXIT_CODE);
  }
}
