import { assert, assertEquals } from "@std/assert";
import { isAlive, listDescendants } from "../core/process_tree.ts";
import { agentCommand, AgentProcess, LogRing } from "./agent_process.ts";

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
