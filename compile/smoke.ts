/**
 * The smoke suite `deno task compile:verify` runs a program through (the
 * compiled binary, or `deno run -A main.ts` to check the suite itself).
 * Loopback only, every wait bounded:
 * 1. `--help` exits 0 and prints usage (first run: extraction time; second run: cold start);
 * 2. `console --offline --text`: a typed session against the built-in gateway
 *    stand-in, to the agent's "Goodbye!" and exit status 0;
 * 3. `start` against the worker-server stand-in: registers, an idle job
 *    process runs prewarm (Silero VAD loaded), an assigned job imports the
 *    agent and starts its session, then SIGTERM drains and the worker exits
 *    (0 or 143) leaving no child process behind.
 *
 * @module
 */

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
