/**
 * The call keeper: keeps calls answered when agents are lost (see `call_keeper.ts`), as a small
 * endpoint for livekit-server's webhooks (`endpoint.ts`), run by `deno task keeper`
 * (`command.ts`). See docs/scaling.md.
 *
 * @module
 */
export {
  CallKeeper,
  type KeeperOutcome,
  LOST_NOTICE,
  NOTICE_TOPIC,
  UNANSWERED_NOTICE,
} from "./call_keeper.ts";
export { runKeeperCommand } from "./command.ts";
export { apiUrl, type RunningKeeper, serveKeeper } from "./endpoint.ts";
export { keeperHelp, type KeeperOptions, parseKeeperOptions } from "./options.ts";
