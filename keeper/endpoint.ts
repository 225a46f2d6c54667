/**
 * The call keeper's HTTP endpoint for livekit-server's webhooks: verifies each one and hands it
 * to a {@link CallKeeper} (see `call_keeper.ts` for what it does on a room).
 *
 * Why a process of its own: LiveKit's open-source server never gives a lost agent's call to
 * another worker (the dispatch `restart_policy` is LiveKit Cloud only, and the agent protocol's
 * job migration is a no-op there), so something outside the dead worker must notice and
 * dispatch again. The server reports the loss through its webhooks, which it posts to fixed URLs
 * (`webhook.urls`), and dispatches through its API: a worker cannot be that endpoint, because the
 * worker that crashed may be the one the URL names, and several workers would each dispatch a
 * replacement. One keeper per LiveKit deployment; it holds no state, so it can restart anytime
 * (a call lost while it is down is not recovered; its caller is timed out as before).
 *
 * `POST /` takes a webhook (the `Authorization` header must be the server's signature with
 * this deployment's key); `GET /` answers `OK` for health checks.
 *
 * @module
 */
import { AgentDispatchClient, RoomServiceClient, WebhookReceiver } from "livekit-server-sdk";
import { UserError } from "../core/errors.ts";
import { log } from "../core/log.ts";
import { CallKeeper } from "./call_keeper.ts";
import type { KeeperOptions } from "./options.ts";

/** Bound on each server API request of the keeper, in seconds. */
const API_TIMEOUT_S = 5;

/** The server API's base URL for a LiveKit URL (`wss://h/` -> `https://h/`). */
export function apiUrl(url: string): string {
  const u = new URL(url);
  u.protocol = u.protocol === "wss:" ? "https:" : u.protocol === "ws:" ? "http:" : u.protocol;
  return u.href.replace(/\/$/, "");
}

/** A running keeper endpoint. */
export interface RunningKeeper {
  /** `http://HOST:PORT/`: what the server's `webhook.urls` takes. */
  url: string;
  /** The keeper the webhooks go to. */
  keeper: CallKeeper;
  /** Stops taking webhooks, lets the rooms being handled finish (bounded), closes the port. */
  stop(): Promise<void>;
}

/** Serves the webhook endpoint with `options` until {@link RunningKeeper.stop}. */
export function serveKeeper(options: KeeperOptions): RunningKeeper {
  const api = apiUrl(options.url);
  const client = { requestTimeout: API_TIMEOUT_S };
  const keeper = new CallKeeper({
    rooms: new RoomServiceClient(api, options.apiKey, options.apiSecret, client),
    dispatch: new AgentDispatchClient(api, options.apiKey, options.apiSecret, client),
  }, options);
  const receiver = new WebhookReceiver(options.apiKey, options.apiSecret);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: options.host,
      port: options.port,
      onListen: () => {},
    }, async (req) => {
      if (req.method === "GET") return new Response("OK\n");
      if (req.method !== "POST") return new Response("use POST\n", { status: 405 });
      const body = await req.text();
      let event;
      try {
        event = await receiver.receive(body, req.headers.get("Authorization") ?? undefined);
      } catch (error) {
        log().warn(
          { error: String(error) },
          "refused a webhook: its signature does not match this keeper's LIVEKIT_API_KEY/LIVEKIT_API_SECRET",
        );
        return new Response("bad signature\n", { status: 401 });
      }
      keeper.handle(event);
      return new Response("ok\n");
    });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new UserError(
        `keeper port ${options.port} on ${options.host} is already in use; set KEEPER_PORT (or --port) to a free port`,
      );
    }
    throw error;
  }
  const url = `http://${
    server.addr.hostname.includes(":") ? `[${server.addr.hostname}]` : server.addr.hostname
  }:${server.addr.port}/`;
  return {
    url,
    keeper,
    async stop() {
      await keeper.close(options.joinTimeoutMs + 2_000);
      await server.shutdown();
    },
  };
}
