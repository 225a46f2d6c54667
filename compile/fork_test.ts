/**
 * The compiled binary's forked children, emulated under `deno run`: the
 * fixture gives agents-js's real child modules the argv a compiled child sees
 * (`[exe, exe, module, ...args]`). Without the normalisation they fail exactly
 * as predicted; with it the job process loads the real agent and runs its
 * prewarm (Silero VAD), and the inference process loads its runner.
 */
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { resolve } from "node:path";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const ROOT = resolve(HERE, "..");
const FIXTURE = resolve(HERE, "testdata/compiled_child.ts");
const AGENT = resolve(ROOT, "agent.ts");
const RUNNER = pathToFileURL(resolve(HERE, "testdata/fixture_runner.ts")).href;
const AGENTS_DIST = fileURLToPath(new URL(".", import.meta.resolve("@livekit/agents")));
const JOB_MAIN = resolve(AGENTS_DIST, "ipc/job_proc_lazy_main.js");
const INF_MAIN = resolve(AGENTS_DIST, "ipc/inference_proc_lazy_main.js");

const INIT = {
  case: "initializeRequest",
  value: {
    loggerOptions: { pretty: false, level: "warn" },
    pingInterval: 2_500,
    pingTimeout: 90_000,
    highPingThreshold: 500,
    sessionEndTimeout: 10_000,
  },
};

interface Outcome {
  /** First IPC message from the child, if any arrived before it exited. */
  first?: { case?: string };
  /** Exit code, when it exited by itself before answering. */
  exitCode?: number | null;
  stderr: string;
}

/** Forks the fixture, sends initializeRequest, returns the first answer or the exit; always reaps. */
async function runChild(args: string[], normalize: boolean, ms = 60_000): Promise<Outcome> {
  const child: ChildProcess = fork(FIXTURE, args, {
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? "/tmp",
      NO_COLOR: "1",
      EMULATE_NORMALIZE: normalize ? "1" : "0",
    },
    cwd: ROOT,
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += String(d)));
  child.stdout!.on("data", () => {});
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  try {
    const answer = new Promise<Outcome>((res) => {
      child.once("message", (m) => res({ first: m as { case?: string }, stderr }));
      exited.then((code) => res({ exitCode: code, stderr }));
    });
    child.send(INIT);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`no answer within ${ms} ms; stderr: ${stderr}`)), ms);
    });
    const out = await Promise.race([answer, timeout]).finally(() => clearTimeout(timer));
    return { ...out, stderr };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
    child.stdout!.destroy();
    child.stderr!.destroy();
  }
}

Deno.test("emulated compiled job child without normalisation: 'Unable to load agent'", async () => {
  const out = await runChild([JOB_MAIN, AGENT], false);
  assertEquals(out.first, undefined, "the child must not initialise");
  assertStringIncludes(out.stderr, "Unable to load agent");
});

Deno.test("emulated compiled job child with normalisation: loads agent.ts and runs prewarm", async () => {
  // agents-js answers initializeRequest only after `await agent.prewarm(proc)`,
  // which loads the Silero VAD (onnxruntime + model) in this child.
  const out = await runChild([JOB_MAIN, AGENT], true);
  assertEquals(out.first?.case, "initializeResponse", `stderr: ${out.stderr}`);
});

Deno.test("emulated compiled inference child without normalisation: JSON parse error", async () => {
  const out = await runChild([INF_MAIN, JSON.stringify({ fixture: RUNNER })], false);
  assertEquals(out.first, undefined);
  assert(/JSON/.test(out.stderr), `expected a JSON error, got: ${out.stderr}`);
});

Deno.test("emulated compiled inference child with normalisation: loads its runner", async () => {
  const out = await runChild([INF_MAIN, JSON.stringify({ fixture: RUNNER })], true);
  assertEquals(out.first?.case, "initializeResponse", `stderr: ${out.stderr}`);
});

Deno.test("the --preload module is accepted by deno run and leaves argv alone there", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--preload",
      "compile/preload.ts",
      "compile/testdata/print_argv.ts",
      "a",
      "b",
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  const argv = JSON.parse(new TextDecoder().decode(out.stdout));
  assertEquals(argv, [resolve(ROOT, "compile/testdata/print_argv.ts"), "a", "b"]);
});
