/**
 * `guardPrewarm` in agents-js's real job process, supervised by agents-js's own
 * `JobProcExecutor` (what its worker's process pool runs): a shutdown that
 * reaches an idle process while it prewarms ends it at once. And the private
 * names the guard relies on, checked against the agents-js that is installed.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { captureLogs } from "../testing/log_capture.ts";
import { bounded, until } from "../testing/wait.ts";
import { GUARD, isGuarded } from "./job_process.ts";
import agent from "../agent.ts";

const AGENTS_DIST = new URL(".", import.meta.resolve("@livekit/agents"));
const AGENTS_SRC = new URL("../src/", AGENTS_DIST);
const FIXTURE = fileURLToPath(new URL("./testdata/fixture_agent.ts", import.meta.url));

/** agents-js's supervisor of a job process (not exported by the package: its own module). */
interface JobProcExecutor {
  proc?: ChildProcess;
  start(): Promise<void>;
  initialize(options?: { sessionEndTimeout?: number }): Promise<void>;
  close(): Promise<void>;
  join(): Promise<void>;
}
const { JobProcExecutor } = await import(
  new URL("./ipc/job_proc_executor.js", AGENTS_DIST).href
) as { JobProcExecutor: new (opts: Record<string, unknown>) => JobProcExecutor };

/** How long agents-js's executor waits for the ack before it SIGKILLs (as the worker sets it). */
const CLOSE_TIMEOUT_MS = 10_000;

Deno.test("guardPrewarm: a shutdown that reaches a job process while it prewarms ends it at once, not at agents-js's close timeout", async () => {
  using logs = captureLogs("warn");
  const dir = await Deno.makeTempDir();
  const events = `${dir}/events.jsonl`;
  // The fork inherits the environment: the fixture records its steps and prewarms for 6 s.
  Deno.env.set("FIXTURE_EVENTS_FILE", events);
  Deno.env.set("FIXTURE_PREWARM_MS", "6000");
  const exec = new JobProcExecutor({
    agent: FIXTURE,
    initializeTimeout: 20_000,
    closeTimeout: CLOSE_TIMEOUT_MS,
    memoryWarnMB: 0,
    memoryLimitMB: 0,
    pingInterval: 2_500,
    pingTimeout: 60_000,
    highPingThreshold: 500,
  });
  let initialized: Promise<unknown> = Promise.resolve();
  try {
    await exec.start();
    // As agents-js's process pool does; it resolves once prewarm has returned.
    initialized = exec.initialize({ sessionEndTimeout: 10_000 }).catch((e) => e);
    await until(
      async () => {
        if (exec.proc?.exitCode !== null) throw new Error("the job process exited at start");
        return await Deno.readTextFile(events).then((t) => t.includes('"prewarm"'), () => false);
      },
      20_000,
      "the job process to start its prewarm",
    );
    const t0 = performance.now();
    await bounded(exec.close(), CLOSE_TIMEOUT_MS + 10_000, () => "close() did not return");
    const ms = Math.round(performance.now() - t0);
    // Unguarded, the job process answers only once its prewarm has returned (seen here: 6 s
    // later, the prewarm finished), or never when the request is lost, and then agents-js waits
    // its close timeout, says so, and SIGKILLs. Guarded, the ack comes at once (the executor,
    // still initializing, then ends the process) and the prewarm never finishes.
    const timedOut = logs.lines.filter((l) => String(l.msg).includes("did not acknowledge"));
    assertEquals(timedOut, [], `the shutdown was lost; agents-js gave up after ${ms} ms`);
    assert(exec.proc!.exitCode !== null || exec.proc!.signalCode !== null, "still running");
    assertEquals(
      (await Deno.readTextFile(events)).includes('"prewarmed"'),
      false,
      "the process went on prewarming after the shutdown",
    );
  } finally {
    Deno.env.delete("FIXTURE_EVENTS_FILE");
    Deno.env.delete("FIXTURE_PREWARM_MS");
    const proc = exec.proc;
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    await exec.join().catch(() => {});
    await initialized;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("guardPrewarm: the agent's prewarm is the guarded one", () => {
  assert(isGuarded(agent.prewarm), "agent.ts's prewarm is not wrapped in guardPrewarm");
});

Deno.test("guardPrewarm: what it relies on is still what agents-js uses (its IPC messages, its job module)", async () => {
  const source = (path: string) => Deno.readTextFile(new URL(path, AGENTS_SRC));
  const messages = await source("ipc/message.ts");
  for (const name of [GUARD.shutdownRequest, GUARD.shutdownAck, GUARD.shuttingDown]) {
    assertStringIncludes(messages, `case: '${name}';`, `agents-js has no IPC message ${name}`);
  }
  // The job process answers a shutdown with these two, in this order, as the guard does.
  const main = await source("ipc/job_proc_lazy_main.ts");
  const handler = main.slice(main.indexOf(`case '${GUARD.shutdownRequest}':`));
  assert(
    handler.length < main.length,
    `the job process no longer handles ${GUARD.shutdownRequest}`,
  );
  assert(
    handler.indexOf(`case: '${GUARD.shutdownAck}'`) >= 0 &&
      handler.indexOf(`case: '${GUARD.shutdownAck}'`) <
        handler.indexOf(`case: '${GUARD.shuttingDown}'`),
    `the job process no longer answers ${GUARD.shutdownAck} then ${GUARD.shuttingDown}`,
  );
  // The module agents-js forks for a job, as the guard recognizes it.
  const executor = await source("ipc/job_proc_executor.ts");
  const forked = executor.match(/new URL\(`\.\/(\w+)\$\{currentFileExtension\}`/)?.[1];
  assert(forked, "agents-js's executor no longer forks a module named as the guard expects");
  for (const ext of [".js", ".ts", ".cjs"]) {
    assert(GUARD.jobModule.test(`/x/${forked}${ext}`), `the guard misses ${forked}${ext}`);
  }
  await Deno.stat(new URL(`./ipc/${forked}.js`, AGENTS_DIST));
});
