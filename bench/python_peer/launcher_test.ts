import { assert, assertEquals } from "@std/assert";
import { DIAG_DIR, parseLogLine, peerEnv, PeerProcess } from "./launcher.ts";

const python = (() => {
  try {
    return new Deno.Command("python3", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** A real process running `script` with plain python3 (not the peer's environment). */
function py(script: string, env: Record<string, string> = {}): PeerProcess {
  return new PeerProcess(
    "python3",
    ["-u", "-c", script],
    { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", PYTHONDONTWRITEBYTECODE: "1", ...env },
    "/",
  );
}

Deno.test("parseLogLine: the worker's JSON lines, nothing else", () => {
  assertEquals(
    parseLogLine('{"message": "registered worker", "id": "AW_1", "level": "INFO"}')?.id,
    "AW_1",
  );
  assertEquals(parseLogLine("2026-11-29 18:12:50 INFO text line"), undefined);
  assertEquals(parseLogLine('{"no_message": 1}'), undefined);
  assertEquals(parseLogLine("{broken"), undefined);
});

Deno.test("peerEnv: only what the run chooses; inference credentials pinned to the run's", () => {
  const env = peerEnv({
    apiKey: "k",
    apiSecret: "s",
    inferenceUrl: "http://127.0.0.1:1/v1",
    livekitUrl: "ws://127.0.0.1:2",
    env: { LIVEKIT_AGENT_NAME: "a" },
  });
  assertEquals(env.LIVEKIT_INFERENCE_URL, "http://127.0.0.1:1/v1");
  assertEquals(env.LIVEKIT_URL, "ws://127.0.0.1:2");
  // The plugins prefer LIVEKIT_INFERENCE_API_* over LIVEKIT_API_*: both are the run's.
  assertEquals([env.LIVEKIT_API_KEY, env.LIVEKIT_INFERENCE_API_KEY], ["k", "k"]);
  assertEquals([env.LIVEKIT_API_SECRET, env.LIVEKIT_INFERENCE_API_SECRET], ["s", "s"]);
  assertEquals(env.LIVEKIT_AGENT_NAME, "a");
  assertEquals(env.PYTHONPATH, undefined);
  const allowed = new Set([
    "PATH",
    "HOME",
    "LANG",
    "NO_COLOR",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "LIVEKIT_API_KEY",
    "LIVEKIT_API_SECRET",
    "LIVEKIT_INFERENCE_API_KEY",
    "LIVEKIT_INFERENCE_API_SECRET",
    "LIVEKIT_INFERENCE_URL",
    "LIVEKIT_URL",
    "LIVEKIT_AGENT_NAME",
  ]);
  for (const k of Object.keys(env)) assert(allowed.has(k), `unexpected variable ${k}`);
  assertEquals(
    peerEnv({ apiKey: "k", apiSecret: "s", inferenceUrl: "x", diagnostics: true }).PYTHONPATH,
    DIAG_DIR,
  );
});

Deno.test({
  name: "stop: a tree that ignores SIGTERM is killed by PID after the grace, child included",
  ignore: !python,
  fn: async () => {
    const p = py(`
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
if os.fork() == 0:
    time.sleep(60)
    os._exit(0)
print("ready", flush=True)
time.sleep(60)
`);
    try {
      await p.waitForLine(/ready/, 10_000);
      const before = [...p.seenPids];
      const r = await p.stop("SIGTERM", 300);
      assertEquals(r.forced, true);
      assertEquals(r.code, 137);
      for (const pid of [...p.seenPids, ...before]) assertEquals(alive(pid), false, `pid ${pid}`);
    } finally {
      await p.kill();
    }
  },
});

Deno.test({
  name: "stop: a clean exit on SIGTERM is not forced; a child that outlives it is a leftover",
  ignore: !python,
  fn: async () => {
    const p = py(`
import os, signal, sys, time
pid = os.fork()
if pid == 0:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.setsid()  # survives its parent, like a helper that did not notice the exit
    time.sleep(60)
    os._exit(0)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("ready", pid, flush=True)
time.sleep(60)
`);
    try {
      const ready = await p.waitForLine(/ready \d+/, 10_000);
      const child = Number(/ready (\d+)/.exec(ready.line)![1]);
      // The sampler must have seen the child before the parent goes.
      while (!p.seenPids.has(child)) await new Promise((r) => setTimeout(r, 20));
      const r = await p.stop("SIGTERM", 5_000);
      assertEquals(r.forced, false);
      assertEquals(r.code, 0);
      assertEquals(r.leftovers, [child]);
      assertEquals(alive(child), false, "the leftover was killed by PID");
    } finally {
      await p.kill();
    }
  },
});

Deno.test({
  name: "taskDump: diag/sitecustomize.py reports a pending task's await chain on SIGUSR2",
  ignore: !python,
  fn: async () => {
    const p = py(
      `
import asyncio
async def wait_forever():
    await asyncio.Event().wait()
async def end_session():
    await wait_forever()
async def main():
    t = asyncio.create_task(end_session(), name="tool_exec_end_session")
    await asyncio.sleep(0)
    print("ready", flush=True)
    await t
asyncio.run(main())
`,
      { PYTHONPATH: DIAG_DIR },
    );
    try {
      await p.waitForLine(/ready/, 10_000);
      const dumps = await p.taskDump(p.pid, 5_000);
      assertEquals(dumps.length, 1);
      const tool = dumps[0].find((t) => t.task === "tool_exec_end_session");
      if (!tool) throw new Error(`no tool_exec_end_session in ${JSON.stringify(dumps)}`);
      assertEquals(
        tool.awaits.map((a) => a.split(" ").pop()),
        ["end_session", "wait_forever", "wait", "FutureIter"],
      );
    } finally {
      await p.kill();
    }
  },
});

Deno.test({
  name:
    "diag/sitecustomize.py: EXIT_MESSAGE_BENCH_MAX_JOBS turns the worker's default load into active jobs / N, and only then",
  ignore: !python,
  fn: async () => {
    // A stand-in for livekit-agents' worker module: the patch must land on the class it defines.
    const dir = await Deno.makeTempDir({ prefix: "load-patch-" });
    try {
      await Deno.mkdir(`${dir}/livekit/agents`, { recursive: true });
      await Deno.writeTextFile(`${dir}/livekit/__init__.py`, "");
      await Deno.writeTextFile(`${dir}/livekit/agents/__init__.py`, "");
      await Deno.writeTextFile(
        `${dir}/livekit/agents/worker.py`,
        "class _DefaultLoadCalc:\n    @classmethod\n    def get_load(cls, worker):\n        return 0.9\n",
      );
      const script = `
import livekit.agents.worker as w
class Worker:
    active_jobs = [1, 2]
print("load", w._DefaultLoadCalc.get_load(Worker()))
`;
      const load = async (env: Record<string, string>) => {
        const p = py(script, { PYTHONPATH: `${DIAG_DIR}:${dir}`, ...env });
        try {
          const hit = await p.waitForLine(/^load /, 10_000);
          return Number(hit.line.split(" ")[1]);
        } finally {
          await p.kill();
        }
      };
      assertEquals(await load({ EXIT_MESSAGE_BENCH_MAX_JOBS: "8" }), 0.25);
      assertEquals(await load({}), 0.9);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
