import { assert, assertEquals, assertFalse } from "@std/assert";
import { until } from "../../testing/wait.ts";
import { type ChannelHost, HostChannel } from "./channel.ts";
import type { AgentsMessage } from "./protocol.ts";

class RecordingHost implements ChannelHost {
  readonly pid = 4242;
  alive = true;
  relayed: AgentsMessage[] = [];
  killedChannels: number[] = [];
  killedWhy?: string;
  relay(_ch: number, msg: AgentsMessage): boolean {
    this.relayed.push(msg);
    return true;
  }
  killChannel(ch: number): void {
    this.killedChannels.push(ch);
  }
  killHost(why: string): void {
    this.killedWhy = why;
  }
}

const INIT = { case: "initializeRequest", value: { sessionEndTimeout: 1 } };

Deno.test("channel: no PID of its own, so agents-js's per-process memory check never reads the shared host", () => {
  const c = new HostChannel(1, new RecordingHost());
  assertEquals(c.pid, undefined);
  assertEquals(c.hostPid, 4242);
});

Deno.test("channel: an idle channel moved to another host is initialized there, and agents-js sees one initializeResponse", () => {
  const a = new RecordingHost();
  const b = new RecordingHost();
  const c = new HostChannel(1, a);
  const seen: string[] = [];
  c.on("message", (m: AgentsMessage) => seen.push(m.case));
  c.send(INIT);
  c.deliver({ case: "initializeResponse" });
  assert(c.idle && c.initialized);
  c.moveTo(b);
  assertEquals(b.relayed.map((m) => m.case), ["initializeRequest"]);
  c.deliver({ case: "initializeResponse" });
  assertEquals(seen, ["initializeResponse"]);
  c.send({ case: "startJobRequest", value: { runningJob: { job: { id: "AJ_1" } } } });
  assertEquals(b.relayed.at(-1)?.case, "startJobRequest");
  assertEquals(c.jobId, "AJ_1");
  assertFalse(c.idle, "a channel with a call is not capacity any more");
});

Deno.test("channel: a kill the host does not carry out within the grace kills the host", async () => {
  const host = new RecordingHost();
  const c = new HostChannel(7, host, 30);
  const exits: unknown[] = [];
  c.on("exit", (code, signal) => exits.push([code, signal]));
  assert(c.kill("SIGKILL"));
  assertEquals(host.killedChannels, [7]);
  assertEquals(host.killedWhy, undefined, "not before the grace");
  await until(() => host.killedWhy, 2_000, "the host to be killed");
  assert(host.killedWhy?.includes("channel 7"));
  c.exited(null, "SIGKILL");
  c.exited(0);
  assertEquals(exits, [[null, "SIGKILL"]], "one exit, as a process has");
  assertFalse(c.connected);
});

Deno.test("channel: a kill carried out in time clears its timer and does not touch the host", () => {
  const host = new RecordingHost();
  const c = new HostChannel(3, host, 30);
  c.kill();
  c.exited(null, "SIGKILL");
  // The sanitizer fails this test if the kill timer were left running.
  assertEquals(host.killedWhy, undefined);
});
