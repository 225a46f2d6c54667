/**
 * `deno task keeper` (`main.ts keeper`): parse the options, serve the webhook endpoint, stop on a
 * signal. See `endpoint.ts` and docs/scaling.md.
 *
 * @module
 */
import { initializeLogger } from "@livekit/agents";
import { USAGE_EXIT_CODE, UserError } from "../core/errors.ts";
import { log } from "../core/log.ts";
import { redactUrl } from "../core/redact.ts";
import { type RunningKeeper, serveKeeper } from "./endpoint.ts";
import { type KeeperOptions, parseKeeperOptions } from "./options.ts";

/**
 * Runs `keeper [flags]` until SIGTERM (exit 143) or SIGINT (130); a configuration mistake is one
 * line on stderr and exit 2.
 */
export async function runKeeperCommand(argv: string[]): Promise<never> {
  let options: KeeperOptions;
  let running: RunningKeeper;
  try {
    options = parseKeeperOptions(argv);
    initializeLogger({ pretty: false, level: options.logLevel });
    running = serveKeeper(options);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    console.error(`error: ${error.message}`);
    return Deno.exit(USAGE_EXIT_CODE);
  }
  log().info(
    { webhook_url: running.url, server: redactUrl(options.url) },
    `keeping calls: point the LiveKit server's webhook.urls at ${running.url}`,
  );
  const code = await new Promise<number>((resolve) => {
    Deno.addSignalListener("SIGTERM", () => resolve(143));
    Deno.addSignalListener("SIGINT", () => resolve(130));
  });
  log().info(`stopping (${code === 143 ? "SIGTERM" : "SIGINT"})`);
  await running.stop();
  return Deno.exit(code);
}
