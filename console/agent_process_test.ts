import { assert, assertEquals, assertLess } from "@std/assert";
import { isAlive, listDescendants } from "../core/process_tree.ts";
import { bounded, until } from "../testing/wait.ts";

/** The process group of `pid` (Linux `/proc`), or undefined once it is gone. */
function groupOf(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
  } catch {
    return undefined;
  }
}
import { agentCommand, AgentProcess, LogRing, PIPE_DRAIN_MS } from "./agent_process.ts";

const opts = { sanitizeOps: true, sanitizeResources: true };

Deno.test("agent_process: the agent's half runs under `deno run`, or as the compiled binary itself", () => {
  const cli = agentCommand("/p/main.ts", "127.0.0.1:9", [], false);
  assertEquals(cli.args, ["run", "-A", "/p/main.ts", "console", "--connect-addr", "127.0.0.1:9"]);
  const compiled = agentCommand("/p/main.ts", "127.0.0.1:9", [], true);
  assertEquals(compiled.args, ["console", "--connect-addr", "127.0.0.1:9"]);
  assertEquals(
    agentCommand("file:///p/main.ts", "h:1", [], false).args.includes("/p/main.ts"),
    true,
  );
});

Deno.test("agent_process: the log tail keeps headers, and details only for warnings/errors", () => {
  const r = new LogRing(50);
  for (
    const l of [
      "\x1b[34m[00:00:01.000] DEBUG (1): noise\x1b[0m",
      '    room: "console-room"',
      "[00:00:02.000] ERROR (1): it broke",
      "    error: boom",
      "",
      "plain line",
    ]
  ) r.push(l);
  assertEquals(r.tail(10), [
    "[00:00:01.000] DEBUG (1): noise",
    "[00:00:02.000] ERROR (1): it broke",
    "    error: boom",
    "plain line",
  ]);
  assertEquals(r.tail(1), ["plain line"]);
});

Deno.test({
  name: "agent_process: stop escalates SIGINT -> SIGKILL for the whole group, bounded",
  ...opts,
  async fn() {
    // A child that ignores SIGINT and forks a grandchild into its group.
    const script = `
      Deno.addSignalListener("SIGINT", () => console.log("ignored"));
      new Deno.Command("sleep", { args: ["30"] }).spawn();
      console.log("ready");
      setInterval(() => {}, 1000);`;
    const ready = Promise.withResolvers<void>();
    const p = AgentProcess.spawn({
      cmd: Deno.execPath(),
      args: ["eval", script],
      onLine: (l) => l === "ready" && ready.resolve(),
    });
    await ready.promise;
    const kids = listDescendants(p.pid);
    assert(kids.length >= 1, "grandchild not seen");
    const t0 = performance.now();
    const st = await p.stop({ killAfterMs: 500 });
    assertEquals(st.signal, "SIGKILL");
    assert(performance.now() - t0 < 3000);
    const end = performance.now() + 2000;
    while (kids.some(isAlive) && performance.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assertEquals(kids.filter(isAlive), [], "grandchild survived");
    assertEquals(p.logs.tail().includes("ignored"), true);
  },
});

Deno.test("agent_process: a log line quoting model text cannot carry escape sequences to the terminal", () => {
  const r = new LogRing(5);
  r.push('[00:00:01.000] DEBUG (1): transcript "hi\x1b]0;owned\x07\x1b[2J there"');
  assertEquals(r.tail(1), ['[00:00:01.000] DEBUG (1): transcript "hi there"']);
});

/**
 * An agent that exits while something it started still holds its stdout and
 * stderr (an inference process, a grandchild): `sh -c "sleep 20 & exit 0"`.
 * Returns the process and the grandchild's PID, once the agent has exited.
 */
async function agentLeavingAGrandchild(): Promise<{ p: AgentProcess; grandchild: number }> {
  const pid = Promise.withResolvers<number>();
  const p = AgentProcess.spawn({
    cmd: "sh",
    args: ["-c", "sleep 20 & echo $!; exit 0"],
    onLine: (l) => /^\d+$/.test(l) && pid.resolve(Number(l)),
  });
  const grandchild = await bounded(pid.promise, 5_000, () => "the grandchild's PID");
  assertEquals((await bounded(p.status, 5_000, () => "the agent's exit")).code, 0);
  assert(isAlive(grandchild), "the grandchild is not running: nothing to test");
  return { p, grandchild };
}

Deno.test({
  name:
    "agent_process: after the agent exits, close() ends its whole group by PID and does not wait for the pipes without bound",
  ...opts,
  async fn() {
    const { p, grandchild } = await agentLeavingAGrandchild();
    try {
      await bounded(p.close(), 5_000, () => "close() still waiting for the agent's pipes");
      // SIGKILLed, it ends within moments; without the group kill `sleep 20` lives on.
      await until(
        () => !isAlive(grandchild) || undefined,
        2_000,
        "the grandchild to end after close()",
      );
    } finally {
      try {
        Deno.kill(grandchild, "SIGKILL");
      } catch {
        // ended, as it should be
      }
    }
  },
});

Deno.test({
  name: "agent_process: kill() of an agent that already exited still ends its group and returns",
  ...opts,
  async fn() {
    const { p, grandchild } = await agentLeavingAGrandchild();
    try {
      await bounded(p.kill(), 5_000, () => "kill() still waiting for the agent's pipes");
      await until(
        () => !isAlive(grandchild) || undefined,
        2_000,
        "the grandchild to end after kill()",
      );
    } finally {
      try {
        Deno.kill(grandchild, "SIGKILL");
      } catch {
        // ended, as it should be
      }
    }
  },
});

Deno.test({
  name:
    "agent_process: a process that left the agent's group and holds its pipes cannot hold close() up",
  ...opts,
  async fn() {
    // setsid: out of the agent's group, so the group kill does not reach it;
    // only the bound on the pipe readers lets close() return.
    const pid = Promise.withResolvers<number>();
    const p = AgentProcess.spawn({
      cmd: "sh",
      args: ["-c", "setsid sleep 20 & echo $!; exit 0"],
      onLine: (l) => /^\d+$/.test(l) && pid.resolve(Number(l)),
    });
    const escaped = await bounded(pid.promise, 5_000, () => "the escaped process's PID");
    try {
      await bounded(p.status, 5_000, () => "the agent's exit");
      // Once it leads its own group (setsid ran), the agent's group kill cannot reach it.
      await until(() => groupOf(escaped) === escaped, 5_000, "the process left the agent's group");
      const t0 = performance.now();
      await bounded(p.close(), 10_000, () => "close() still waiting for the agent's pipes");
      assertLess(performance.now() - t0, PIPE_DRAIN_MS + 1_000);
      assert(
        isAlive(escaped),
        "the escaped process is gone: the bound was not what ended the wait",
      );
    } finally {
      try {
        Deno.kill(escaped, "SIGKILL");
      } catch {
        // gone
      }
    }
  },
});
