/**
 * `deno task compile:verify`: builds the executable (where a base runtime is
 * available) and runs it through a smoke suite, printing binary size,
 * first-run extraction time and cold start.
 *
 *   deno task compile:verify                    # build, then smoke-test dist/exit-message
 *   deno task compile:verify --binary PATH      # smoke-test a binary built elsewhere
 *   deno task compile:verify --against-deno-run # check the smoke suite itself on `deno run -A main.ts`
 *   (--no-measure: skip the payload measurement; --offline: do not probe the download host)
 *
 * Smoke suite (loopback only, every wait bounded):
 * 1. `--help` exits 0 and prints usage (first run: extraction time; second run: cold start);
 * 2. `console --offline --text`: a typed session against the built-in gateway
 *    stand-in, to the agent's "Goodbye!" and exit status 0;
 * 3. `start` against the worker-server stand-in: registers, an idle job
 *    process runs prewarm (Silero VAD loaded), an assigned job imports the
 *    agent and starts its session, then SIGTERM drains and the worker exits
 *    (0 or 143) leaving no child process behind.
 *
 * Exit status: 0 every smoke check passed; 1 a check or the build failed;
 * 3 no base runtime (`denort`) here, so no binary was built or run (the message
 * says which command to run where one is available). A result is only ever
 * reported for a process this script actually ran.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { build, NO_BASE_RUNTIME_EXIT_CODE } from "./build.ts";
import { canDownloadBaseRuntime, downloadUrl, findBaseRuntime } from "./denort.ts";
import { mb, PAYLOAD_BUDGET_BYTES, planCompile } from "./plan.ts";

export { NO_BASE_RUNTIME_EXIT_CODE };

/** How to start the program under test. */
export interface Invocation {
  /** Executable. */
  cmd: string;
  /** Arguments before the program's own (`["run", "-A", "main.ts"]` under the CLI). */
  prefix: string[];
  /** For messages. */
  label: string;
}

/** Outcome of one smoke check. */
export interface CheckResult {
  name: string;
  ok: boolean;
  /** What was seen (one line). */
  detail: string;
  /** Wall time of the check. */
  ms: number;
}

/** A child with its combined output captured line by line. */
class Watched {
  readonly child: Deno.ChildProcess;
  readonly #lines: string[] = [];
  readonly #waiters = new Set<{ re: RegExp; resolve: (line: string) => void }>();
  readonly done: Promise<void>;
  #exited = false;

  constructor(
    inv: Invocation,
    args: string[],
    opts: { cwd: string; env: Record<string, string>; stdin?: boolean },
  ) {
    this.child = new Deno.Command(inv.cmd, {
      args: [...inv.prefix, ...args],
      cwd: opts.cwd,
      env: opts.env,
      clearEnv: true,
      stdin: opts.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      let buf = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          this.#line(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
      }
      if (buf) this.#line(buf);
    };
    this.done = Promise.all([pump(this.child.stdout), pump(this.child.stderr)]).then(() => {});
    this.child.status.then(() => (this.#exited = true));
  }

  #line(raw: string) {
    // deno-lint-ignore no-control-regex
    const line = raw.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, "");
    this.#lines.push(line);
    for (const w of this.#waiters) {
      if (w.re.test(line)) {
        this.#waiters.delete(w);
        w.resolve(line);
      }
    }
  }

  /** First output line matching `re` (already seen or future); rejects after `ms`. */
  waitFor(re: RegExp, ms: number, what: string): Promise<string> {
    const seen = this.#lines.find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { re, resolve: (l: string) => (clearTimeout(timer), resolve(l)) };
      const timer = setTimeout(() => {
        this.#waiters.delete(w);
        reject(new Error(`no ${what} within ${ms} ms; last output: ${this.tail(6)}`));
      }, ms);
      this.#waiters.add(w);
    });
  }

  tail(n: number): string {
    return JSON.stringify(this.#lines.filter((l) => l.trim()).slice(-n));
  }

  /** Waits for exit up to `ms`; past that, SIGKILL (by PID) and report it. */
  async exit(ms: number): Promise<{ code: number; killed: boolean }> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), ms)));
    const st = await Promise.race([this.child.status, timeout]);
    clearTimeout(timer);
    if (st === "timeout") {
      this.kill("SIGKILL");
      const after = await this.child.status;
      await this.done;
      return { code: after.code, killed: true };
    }
    await this.done;
    return { code: st.signal ? 128 + signalNumber(st.signal) : st.code, killed: false };
  }

  kill(signal: Deno.Signal) {
    if (this.#exited) return;
    try {
      this.child.kill(signal);
    } catch { /* already gone */ }
  }

  async write(text: string) {
    const w = this.child.stdin.getWriter();
    await w.write(new TextEncoder().encode(text));
    w.releaseLock();
  }
}

function signalNumber(signal: Deno.Signal): number {
  return ({ SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 0;
}

/** A clean environment: nothing from the developer's shell (no LiveKit variables) leaks in. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/tmp",
    NO_COLOR: "1",
    ...extra,
  };
}

async function timed(name: string, f: () => Promise<string>): Promise<CheckResult> {
  const t0 = performance.now();
  try {
    const detail = await f();
    return { name, ok: true, detail, ms: performance.now() - t0 };
  } catch (error) {
    return { name, ok: false, detail: (error as Error).message, ms: performance.now() - t0 };
  }
}

/** `--help`: exits 0 and prints a usage text. */
export function smokeHelp(inv: Invocation, cwd: string, name = "--help"): Promise<CheckResult> {
  return timed(name, async () => {
    const w = new Watched(inv, ["--help"], { cwd, env: cleanEnv() });
    const usage = w.waitFor(/usage|Usage/, 60_000, "usage text");
    const { code, killed } = await w.exit(60_000);
    await usage.catch(() => {});
    if (killed) throw new Error(`did not exit within 60 s; killed`);
    if (code !== 0) throw new Error(`exit ${code}; output ${w.tail(6)}`);
    await usage;
    return "exit 0, usage printed";
  });
}

/** `console --offline --text`: hello, then goodbye; the agent says "Goodbye!" and the app exits 0. */
export function smokeConsole(inv: Invocation, cwd: string): Promise<CheckResult> {
  return timed("console --offline --text", async () => {
    const w = new Watched(inv, ["console", "--offline", "--text"], {
      cwd,
      env: cleanEnv(),
      stdin: true,
    });
    try {
      await w.waitFor(/agent connected/, 60_000, "agent connected");
      await w.write("hello\n");
      await w.waitFor(/^agent: Hello/, 30_000, "reply to hello");
      await w.write("goodbye\n");
      await w.waitFor(/^agent: Goodbye!/, 30_000, 'the agent\'s "Goodbye!"');
      await w.waitFor(/session ended/, 30_000, "session ended");
      await w.child.stdin.close().catch(() => {});
      const { code, killed } = await w.exit(30_000);
      if (killed) {
        throw new Error("console did not exit within 30 s after the session ended; killed");
      }
      if (code !== 0) throw new Error(`console exited ${code}; output ${w.tail(6)}`);
      return 'goodbye spoken, "session ended", exit 0';
    } finally {
      w.kill("SIGKILL");
      await w.child.stdin.close().catch(() => {});
      await w.exit(5_000);
    }
  });
}

/** PIDs of `pid`'s children (Linux /proc). */
export async function childPids(pid: number): Promise<number[]> {
  const out: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${e.name}/stat`).catch(() => "");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[1]) === pid) out.push(Number(e.name));
  }
  return out;
}

async function alive(pid: number): Promise<boolean> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
  if (!stat) return false;
  return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

/** A free loopback TCP port (for the health server; production's 8081 may be taken). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** `start` against the worker-server stand-in: register, prewarm, a job, SIGTERM drain. */
export function smokeWorker(inv: Invocation, cwd: string): Promise<CheckResult> {
  return timed("start (register, prewarm, job, SIGTERM)", async () => {
    const { WorkerServerStandIn } = await import("../testing/fakes/worker_server.ts");
    const { startGateway } = await import("../simulation/mod.ts");
    const server = await WorkerServerStandIn.start();
    const { apiKey, apiSecret } = server.credentials;
    const gateway = await startGateway({ apiKey, apiSecret });
    const w = new Watched(inv, [
      "start",
      "--log-level",
      "debug",
      "--num-idle-processes",
      "1",
      "--port",
      String(freePort()),
      "--host",
      "127.0.0.1",
    ], {
      cwd,
      env: cleanEnv({
        LIVEKIT_URL: server.url,
        LIVEKIT_API_KEY: apiKey,
        LIVEKIT_API_SECRET: apiSecret,
        LIVEKIT_INFERENCE_URL: gateway.url,
      }),
    });
    try {
      const conn = await server.nextWorker(60_000);
      await conn.register("AW_verify", 30_000);
      await w.waitFor(/silero VAD loaded/, 60_000, "prewarm in a job process (silero VAD loaded)");
      const job = conn.offerJob({ roomName: "verify-room" });
      const answer = await conn.awaitAvailability(job.id, 30_000);
      if (!answer.available) throw new Error("the worker declined the job");
      await conn.assign(job);
      await w.waitFor(/starting session/, 60_000, "the job's entry (starting session)");
      const children = await childPids(w.child.pid);
      w.kill("SIGTERM");
      const { code, killed } = await w.exit(60_000);
      if (killed) throw new Error("worker did not exit within 60 s of SIGTERM; killed");
      if (code !== 0 && code !== 143) throw new Error(`worker exited ${code} after SIGTERM`);
      const left = [];
      for (const pid of children) if (await alive(pid)) left.push(pid);
      if (left.length) throw new Error(`child processes left after exit: ${left.join(", ")}`);
      return `registered, prewarm ran, job started, SIGTERM -> exit ${code}, ` +
        `${children.length} child process(es) gone`;
    } finally {
      w.kill("SIGKILL");
      await w.exit(5_000);
      await server.close();
      await gateway.close();
    }
  });
}

/** Runs the suite; `timings` adds first-run (extraction) and cold-start figures for a binary. */
export async function runSuite(inv: Invocation, cwd: string): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  results.push(await smokeHelp(inv, cwd, "--help (first run)"));
  results.push(await smokeHelp(inv, cwd, "--help (second run: cold start)"));
  results.push(await smokeConsole(inv, cwd));
  results.push(await smokeWorker(inv, cwd));
  return results;
}

/** Report lines for results. */
export function report(results: readonly CheckResult[]): string {
  return results.map((r) =>
    `  ${r.ok ? "PASS" : "FAIL"}  ${r.name} (${(r.ms / 1000).toFixed(1)} s): ${r.detail}`
  ).join("\n");
}

/** Where a self-extracting binary may have unpacked itself (Deno 2.7+, then older names). */
export function extractionCandidates(binary: string, env = Deno.env): string[] {
  const dir = dirname(binary);
  const name = binary.split("/").pop()!;
  const data = env.get("XDG_DATA_HOME") ?? join(env.get("HOME") ?? "/root", ".local", "share");
  return [join(dir, `.${name}`), join(dir, `${name}.fs`), join(data, name)];
}

/**
 * deno compile's own account of what it would embed, using the `deno` CLI as a
 * stand-in base runtime. The file it writes is NOT a working exit-message
 * binary (the CLI cannot run an embedded program); it is deleted at once.
 */
export async function measureWithStandIn(root: string): Promise<string | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "exit-message-measure-" });
  try {
    const plan = await planCompile({ root, output: join(dir, "measure-only"), noCheck: true });
    const out = await new Deno.Command(Deno.execPath(), {
      args: plan.args,
      cwd: plan.root,
      env: { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return /Files: ([0-9.]+\s*[KMG]B)/.exec(text)?.[1];
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function downloadUrlNote(triple: string): string {
  return `${downloadUrl(Deno.version.deno, triple)} (not reachable)`;
}

/** Runs `deno task compile:verify`; returns the exit status. */
export async function verify(args: readonly string[]): Promise<number> {
  const againstDenoRun = args.includes("--against-deno-run");
  const binaryAt = args.indexOf("--binary");
  const noMeasure = args.includes("--no-measure");
  // Do not probe the download host (treat it as unreachable): for tests and air-gapped machines.
  const offline = args.includes("--offline");
  const plan = await planCompile();
  console.log(`payload: ${mb(plan.payloadBytes)} to embed (budget ${mb(PAYLOAD_BUDGET_BYTES)})`);
  const cwd = await Deno.makeTempDir({ prefix: "exit-message-verify-" });
  try {
    if (againstDenoRun) {
      const inv = {
        cmd: Deno.execPath(),
        prefix: ["run", "-A", join(plan.root, "main.ts")],
        label: "deno run",
      };
      console.log(
        "smoke suite against `deno run -A main.ts` (checks the suite itself; NOT a test of a compiled binary):",
      );
      const results = await runSuite(inv, cwd);
      console.log(report(results));
      return results.every((r) => r.ok) ? 0 : 1;
    }
    let binary: string;
    if (binaryAt >= 0) {
      binary = args[binaryAt + 1];
      if (!binary) {
        console.error("error: --binary needs a path");
        return 2;
      }
    } else {
      const runtime = await findBaseRuntime({ target: plan.target.triple });
      const available = runtime.found ||
        (!offline && await canDownloadBaseRuntime(plan.target.triple));
      const notRun = async () => {
        if (!noMeasure) {
          const files = await measureWithStandIn(plan.root);
          if (files) {
            console.log(
              `deno compile's own count of embedded files: ${files} (measured with the deno CLI as a ` +
                "stand-in base runtime; that output is not a runnable binary and was deleted)",
            );
          }
        }
        console.error(
          [
            `NOT RUN: no base runtime (denort ${Deno.version.deno}, ${plan.target.triple}) is available,`,
            "so no executable was built and no smoke check ran. Looked at:",
            ...(runtime.found ? [] : runtime.looked).map((l) => `  ${l}`),
            "  " + downloadUrlNote(plan.target.triple),
            "Run this where denort is available (DENORT_BIN=/path/to/denort, the zip in the Deno cache,",
            "or access to dl.deno.land):",
            "  deno task compile:verify",
            "or build there with `deno task compile` and check the file here with:",
            "  deno task compile:verify --binary dist/exit-message",
          ].join("\n"),
        );
        return NO_BASE_RUNTIME_EXIT_CODE;
      };
      if (!available) return await notRun();
      binary = join(plan.root, plan.output);
      const built = await build([]);
      if (built === NO_BASE_RUNTIME_EXIT_CODE) return await notRun();
      if (built !== 0) return built;
    }
    binary = await Deno.realPath(binary);
    // Start from a clean slate so the first run really extracts.
    for (const d of extractionCandidates(binary)) {
      await Deno.remove(d, { recursive: true }).catch(() => {});
    }
    const size = (await Deno.stat(binary)).size;
    const inv = { cmd: binary, prefix: [], label: binary };
    const results = await runSuite(inv, cwd);
    const extracted = [];
    for (const d of extractionCandidates(binary)) {
      if (await Deno.stat(d).then(() => true, () => false)) extracted.push(d);
    }
    console.log(`binary: ${binary}, ${mb(size)}`);
    console.log(`first run (includes extraction): ${(results[0].ms / 1000).toFixed(1)} s`);
    console.log(`cold start (--help, already extracted): ${(results[1].ms / 1000).toFixed(1)} s`);
    console.log(
      `extracted to: ${extracted.length ? extracted.join(", ") : "(not found where expected)"}`,
    );
    console.log(report(results));
    return results.every((r) => r.ok) ? 0 : 1;
  } finally {
    await Deno.remove(cwd, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await verify(Deno.args));
