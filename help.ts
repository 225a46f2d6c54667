/**
 * `--help` of the command line and of each worker command, written for this
 * project rather than agents-js's generic CLI (whose help calls `dev`
 * "deprecated: use lk agent dev", which cannot run a Deno agent). The worker
 * options come from the same table the parser and worker/README.md use.
 *
 * @module
 */
import { AGENT_ENV_VARS, formatEnvVars } from "./core/env_vars.ts";
import { OPTION_SPECS } from "./worker/option_specs.ts";
import type { WorkerCommand } from "./worker/options.ts";

/** The commands main.ts runs. */
export const COMMANDS = ["console", "start", "dev", "connect", "keeper"] as const;

/** True when `args` (after the command) ask for help. */
export function wantsHelp(args: readonly string[]): boolean {
  return args.some((a) => a === "--help" || a === "-h");
}

/** Help of main.ts itself: what each command is for. */
export const MAIN_HELP = `Usage: deno task <command> [options]
       (deno run -A main.ts <command>, or exit-message <command> when compiled)

A LiveKit voice agent that ends calls gracefully: it says goodbye, the goodbye
is heard in full, and nothing is left running.

Commands:
  console     Talk to the agent in this terminal, by voice or typing
              (add --offline to try it without a LiveKit account)
  start       Run as a LiveKit worker in production: JSON logs, prewarmed job
              processes, health server on port 8081, drain on SIGTERM
  dev         Run as a LiveKit worker for development: readable logs, no
              prewarmed processes, no load limit
  connect     Join one room as a worker job: connect --room NAME
  keeper      Keep calls answered when agents are lost: a webhook endpoint
              for the LiveKit server that dispatches a replacement agent

Run \`deno task <command> --help\` for a command's options and environment.

Environment (.env in the working directory is read too; set variables win):
${formatEnvVars(AGENT_ENV_VARS)}`;

const SUMMARY: Record<WorkerCommand, string> = {
  start:
    "Register with the LiveKit server at LIVEKIT_URL as a worker in production mode:\nJSON log lines, prewarmed job processes, a health server, and a bounded drain\nof active calls on SIGTERM.",
  dev:
    "Register with the LiveKit server at LIVEKIT_URL as a worker in development\nmode: readable log lines, no prewarmed processes, no load limit.",
  connect:
    "Register with the LiveKit server at LIVEKIT_URL and ask it for a job in one\nroom (created if missing), as agents-js's connect does.",
};

/**
 * An option's default for one command: its `defaults` names them per command
 * (`start: 8081; dev/connect: 0`), or says one default for all.
 */
export function defaultFor(defaults: string, command: WorkerCommand): string {
  const parts = defaults.split("; ");
  const perCommand = parts.map((p) => /^([a-z/]+): (.*)$/.exec(p));
  if (!perCommand.every((m) => m && m[1].split("/").every((c) => c in SUMMARY))) return defaults;
  const mine = perCommand.find((m) => m![1].split("/").includes(command));
  return mine ? mine[2] : defaults;
}

/** Help of a worker command: its options, each with its variable and its default there. */
export function workerHelp(command: WorkerCommand): string {
  const specs = OPTION_SPECS.filter((s) =>
    command === "connect" || (s.flag !== "--room" && s.flag !== "--participant-identity")
  );
  const options = specs.map((s) => {
    const env = s.env ? `  (env ${s.env})` : "";
    return `  ${s.flag} ${s.flag === "--room" ? "NAME" : "VALUE"}${env}\n      ${s.help}\n      ` +
      `default: ${defaultFor(s.defaults, command)}`;
  });
  // The variables the options above already name are not listed again.
  const named = new Set(specs.flatMap((s) => s.env ? [s.env] : []));
  const others = AGENT_ENV_VARS.filter((v) => !v.name.split(", ").some((n) => named.has(n)));
  return `Usage: deno task ${command}${command === "connect" ? " --room NAME" : ""} [options]

${SUMMARY[command]}

Options (a flag wins over its variable):
${options.join("\n")}
  -h, --help
      Show this help

Other environment (.env in the working directory is read too; set variables win):
${formatEnvVars(others)}

Exit status: 0 after a clean stop, 1 when the server cannot be reached or
refuses the worker, 2 for a configuration mistake (one line on stderr),
130 after SIGINT, 143 after SIGTERM. See worker/README.md.`;
}
