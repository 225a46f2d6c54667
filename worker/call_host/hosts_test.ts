/**
 * `CallHosts` driven directly, as agents-js's supervisor drives a process: the real host process
 * (`host_main.ts`) with the fixture agent, over the channels `open()` returns.
 */
import { assert, assertEquals } from "@std/assert";
import { fromFileUrl } from "../../testing/paths.ts";
import { until } from "../../testing/wait.ts";
import { isAlive } from "../../core/process_tree.ts";
import { CallHosts } from "./hosts.ts";
import type { HostChannel } from "./channel.ts";
import type { AgentsMessage } from "./protocol.ts";

const FIXTURE = fromFileUrl(new URL("../testdata/fixture_agent.ts", import.meta.url));

function next(channel: HostChannel, kind: string, timeoutMs = 20_000): Promise<AgentsMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      channel.off("message", on);
      reject(new Error(`no ${kind} on channel ${channel.ch} within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (msg: AgentsMessage) => {
      if (msg.case !== kind) return;
      clearTimeout(timer);
      channel.off("message", on);
      resolve(msg);
    };
    channel.on("message", on);
  });
}

function exited(channel: HostChannel): Promise<unknown[]> {
  return new Promise((resolve) => channel.once("exit", (...args) => resolve(args)));
}

async function runOneCall(channel: HostChannel, jobId: string): Promise<unknown[]> {
  const init = next(channel, "initializeResponse");
  channel.send({
    case: "initializeRequest",
    value: { loggerOptions: { pretty: false, level: "warn" }, sessionEndTimeout: 1_000 },
  });
  await init;
  const gone = exited(channel);
  channel.send({
    case: "startJobRequest",
    value: {
      runningJob: {
        job: { id: jobId, metadata: "hold", room: { name: `room-${jobId}`, sid: "RM_x" } },
        acceptArguments: { name: "", identity: "agent", metadata: "" },
        url: "ws://127.0.0.1:1",
        token: "",
        workerId: "AW_test",
      },
    },
  });
  const ack = next(channel, "shutdownRequestAck");
  channel.send({ case: "shutdownRequest", value: { reason: "test" } });
  await ack;
  return await gone;
}

Deno.test("call hosts: a host that served its share of calls retires, and exits once its last call ended", async () => {
  const logs: string[] = [];
  const hosts = new CallHosts({
    agentPath: FIXTURE,
    callsPerHost: 4,
    retireAfterCalls: 2,
    log: (_level, msg) => logs.push(msg),
  });
  const first = hosts.open();
  const pid = first.hostPid!;
  try {
    assertEquals(await runOneCall(first, "AJ_1"), [0, null]);
    assertEquals(hosts.hosts[0]?.served, 1);
    assert(!logs.includes("call host retiring: it takes no new call"));
    const second = hosts.open();
    assertEquals(second.hostPid, pid, "the host takes calls until it served its share");
    assertEquals(await runOneCall(second, "AJ_2"), [0, null]);
    assert(logs.includes("call host retiring: it takes no new call"), logs.join("\n"));
    await until(() => !isAlive(pid) || undefined, 15_000, "the retired host to exit");
    const third = hosts.open();
    assert(third.hostPid !== pid, "a retired host takes no new call");
    const init = next(third, "initializeResponse");
    third.send({
      case: "initializeRequest",
      value: { loggerOptions: { pretty: false, level: "warn" }, sessionEndTimeout: 1_000 },
    });
    await init;
    const gone = exited(third);
    third.send({ case: "shutdownRequest", value: {} });
    assertEquals(await gone, [0, null], "a channel without a call closes on shutdown");
  } finally {
    for (const h of hosts.hosts) if (h.pid && isAlive(h.pid)) Deno.kill(h.pid, "SIGKILL");
    await until(
      () => hosts.hosts.length === 0 || undefined,
      10_000,
      "every host process to be reaped",
    );
  }
});
