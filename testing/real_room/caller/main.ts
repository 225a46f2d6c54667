/**
 * The caller process: `deno run -A testing/real_room/caller/main.ts`, driven over stdin/stdout (see
 * `protocol.ts`). A process of its own, so the caller's WebRTC stack (rtc-node's native
 * threads) is as separate from the test runner as a phone is from the agent, and the test can
 * end it by PID.
 *
 * @module
 */
import { dispose } from "@livekit/rtc-node";
import { textLines } from "../../lines.ts";
import { encodeWav } from "../../../console/wav.ts";
import { Participant } from "./participant.ts";
import { CALLER_SAMPLE_RATE, type CallerCommand, type CallerEvent } from "./protocol.ts";

const encoder = new TextEncoder();
const out = Deno.stdout.writable.getWriter();
let writing = Promise.resolve();

function emit(event: CallerEvent): void {
  const line = encoder.encode(JSON.stringify(event) + "\n");
  writing = writing.then(() => out.write(line));
}

const callers = new Map<string, Participant>();

function caller(id: string): Participant {
  const found = callers.get(id);
  if (!found) throw new Error(`no caller ${id}; join first`);
  return found;
}

async function handle(cmd: CallerCommand): Promise<boolean> {
  switch (cmd.op) {
    case "join": {
      const p = new Participant(cmd.id, emit);
      callers.set(cmd.id, p);
      await p.join(cmd.url, cmd.token);
      return true;
    }
    case "say":
      await caller(cmd.id).say(cmd.text, cmd.pitchHz);
      return true;
    case "hangup":
      await caller(cmd.id).hangup();
      return true;
    case "save": {
      const { startAt, samples } = caller(cmd.id).recording();
      await Deno.writeFile(cmd.path, encodeWav(samples, CALLER_SAMPLE_RATE));
      emit({ ev: "saved", id: cmd.id, path: cmd.path, startAt, samples: samples.length });
      return true;
    }
    case "quit":
      return false;
  }
}

async function main(): Promise<void> {
  emit({ ev: "ready", pid: Deno.pid });
  const pending = new Set<Promise<void>>();
  for await (const line of textLines(Deno.stdin.readable)) {
    if (!line.trim()) continue;
    const cmd = JSON.parse(line) as CallerCommand;
    if (cmd.op === "quit") break;
    // Commands run concurrently (one caller speaks while another joins); errors are reported.
    const p = handle(cmd).then(() => {}, (error) => {
      emit({
        ev: "error",
        id: "id" in cmd ? cmd.id : undefined,
        message: error instanceof Error ? error.message : String(error),
      });
    });
    pending.add(p);
    p.finally(() => pending.delete(p));
  }
  // Quit, or stdin closed (the test ended): hang up everyone, release rtc-node, exit.
  await Promise.allSettled([...callers.values()].map((c) => c.close()));
  await Promise.allSettled(pending);
  await dispose();
  await writing;
  Deno.exit(0);
}

await main();
