/**
 * LiveKit's own load tester, `lk perf agent-load-test` (LiveKit CLI v2.16.x), run by the room load
 * (`bench/room_load.ts`) after its levels: where the bench finds `lk`, and one run of it against a
 * second worker in the same real room, keeping the table it prints (or why it did not run).
 *
 * @module
 */
import type { RealRoom } from "../testing/real_room/real_room.ts";

/** What `lk perf agent-load-test` printed, or why it was not run. */
export type LkLoadTest =
  | { ran: true; version: string; command: string; rooms: number; table: string }
  | { ran: false; why: string };

/** Where the bench looks for `lk`: `LK_BIN`, the cache, then PATH. */
export function findLk(): string | undefined {
  const home = Deno.env.get("HOME") ?? "/tmp";
  const candidates = [
    Deno.env.get("LK_BIN"),
    `${Deno.env.get("XDG_CACHE_HOME") || `${home}/.cache`}/exit-message/lk-v2.16.4/lk`,
    ...(Deno.env.get("PATH") ?? "").split(":").filter(Boolean).map((d) => `${d}/lk`),
  ];
  for (const path of candidates) {
    if (!path) continue;
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not there
    }
  }
  return undefined;
}

/**
 * Runs `lk perf agent-load-test` (N rooms, an echo participant each, explicit dispatch) against
 * a second worker registered under an agent name, and keeps the table it prints.
 */
export async function lkAgentLoadTest(room: RealRoom, rooms: number): Promise<LkLoadTest> {
  const lk = findLk();
  if (!lk) {
    return {
      ran: false,
      why: "no `lk` binary: the Go module proxy refuses github.com/livekit/livekit-cli/v2 at " +
        "every version (HTTP 403), so it cannot be built here; set LK_BIN to a LiveKit CLI " +
        "v2.16.x to include it",
    };
  }
  const version = new TextDecoder().decode(
    (await new Deno.Command(lk, { args: ["--version"], stdout: "piped" }).output()).stdout,
  ).trim();
  const agentName = "exit-message-lk-load";
  const worker = await room.startWorker(["start", "--agent-name", agentName], {}, {
    defaults: ["--port", "0", "--max-jobs", "64"],
  });
  const args = [
    "perf",
    "agent-load-test",
    "--rooms",
    String(rooms),
    "--agent-name",
    agentName,
    "--duration",
    "30s",
  ];
  const out = await new Deno.Command(lk, {
    args: [
      ...args,
      "--url",
      room.server.httpUrl,
      "--api-key",
      room.server.apiKey,
      "--api-secret",
      room.server.apiSecret,
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  await worker.stop();
  // deno-lint-ignore no-control-regex
  const text = new TextDecoder().decode(out.stdout).replace(/\x1b\[[0-9;]*m/g, "").trim();
  if (!out.success) {
    return { ran: false, why: `lk exited ${out.code}: ${text.split("\n").slice(-3).join(" ")}` };
  }
  return { ran: true, version, command: `lk ${args.join(" ")}`, rooms, table: text };
}
