/**
 * Opt-in integration test against a real `livekit-server --dev` (the one part the stand-in cannot
 * replace: a room the job actually joins over WebRTC).
 *
 * Runs when LIVEKIT_DEV_SERVER_URL (e.g. ws://127.0.0.1:7880) is set and reachable; otherwise it
 * is reported as ignored, with the reason in its name. Credentials: LIVEKIT_DEV_API_KEY and
 * LIVEKIT_DEV_API_SECRET, default `devkey` / `secret` (livekit-server --dev's).
 *
 * Flow: the worker registers under an agent name; the test creates a room and an explicit
 * dispatch through the server API; the fixture agent's job process joins the room
 * (`ctx.connect()` succeeds); deleting the room ends the job and frees its process; SIGTERM exits
 * 143 with no process left.
 */
import { assertEquals } from "@std/assert";
import { signToken } from "../stand_in/worker_server/mod.ts";
import { bounded, spawnWorker, waitAllDead, waitForEvent, workerEnv } from "./testdata/harness.ts";

const url = Deno.env.get("LIVEKIT_DEV_SERVER_URL") ?? "";
const apiKey = Deno.env.get("LIVEKIT_DEV_API_KEY") || "devkey";
const apiSecret = Deno.env.get("LIVEKIT_DEV_API_SECRET") || "secret";

async function reachable(raw: string): Promise<string | undefined> {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return `LIVEKIT_DEV_SERVER_URL="${raw}" is not a URL`;
  }
  const port = Number(u.port) || (u.protocol === "wss:" || u.protocol === "https:" ? 443 : 80);
  try {
    const conn = await bounded(
      Deno.connect({ hostname: u.hostname, port }),
      2_000,
      () => "timed out",
    );
    conn.close();
    return undefined;
  } catch (e) {
    return `${raw} is not reachable (${e instanceof Error ? e.message : e})`;
  }
}

const skipReason = url
  ? await reachable(url)
  : "LIVEKIT_DEV_SERVER_URL is not set; start `livekit-server --dev` and set it to run this test";

async function api(service: string, method: string, body: unknown, grant: object) {
  const now = Math.floor(Date.now() / 1000);
  const token = await signToken({ iss: apiKey, nbf: now, exp: now + 600, video: grant }, apiSecret);
  const base = url.replace(/^ws/, "http").replace(/\/?$/, "/");
  const res = await fetch(`${base}twirp/livekit.${service}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${service}/${method}: HTTP ${res.status}: ${text}`);
  return JSON.parse(text || "{}");
}

Deno.test({
  name: skipReason
    ? `real livekit-server --dev: job joins a room (skipped: ${skipReason})`
    : "real livekit-server --dev: job joins a room, room deletion ends it, SIGTERM exits clean",
  ignore: skipReason !== undefined,
  fn: async () => {
    const events = await Deno.makeTempFile({ prefix: "worker-it-" });
    const agentName = `exit-message-it-${crypto.randomUUID().slice(0, 8)}`;
    const room = `it-${crypto.randomUUID().slice(0, 8)}`;
    const worker = spawnWorker({
      args: ["start", "--port", "0", "--num-idle-processes", "1", "--agent-name", agentName],
      env: workerEnv(url, apiSecret, events, { LIVEKIT_API_KEY: apiKey }),
    });
    try {
      await worker.waitForLine(/registered worker/, 30_000);
      await api("RoomService", "CreateRoom", { name: room }, { roomCreate: true });
      await api("AgentDispatchService", "CreateDispatch", { room, agent_name: agentName }, {
        roomAdmin: true,
        room,
      });
      const connected = await waitForEvent(events, (e) => e.event === "connected", 30_000);

      await api("RoomService", "DeleteRoom", { room }, { roomCreate: true });
      await waitAllDead([connected.pid], 30_000);

      const tree = worker.descendants();
      worker.signal("SIGTERM");
      assertEquals((await worker.waitForExit(60_000)).code, 143);
      await waitAllDead(tree, 5_000);
    } finally {
      await worker.stop();
      await Deno.remove(events).catch(() => {});
    }
  },
});
