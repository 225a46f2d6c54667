/**
 * The agent child process: how it is launched (under `deno run` or from a
 * `deno compile`d binary), its captured logs, and its bounded shutdown.
 *
 * @module
 */
import { isCompiled } from "../compile/mod.ts";
import { PARENT_PIPE_ENV } from "../core/parent_pipe.ts";
import { printable } from "./sanitize.ts";

/** Last lines of a stream, for showing why an agent failed. */
export class LogRing {
  readonly #lines: string[] = [];
  constructor(readonly capacity = 200) {}

  /** Appends one line (ANSI colours stripped), dropping the oldest past capacity. */
  push(line: string): void {
    this.#lines.push(stripAnsi(line));
    if (this.#lines.length > this.capacity) this.#lines.shift();
  }

  /**
   * The last `n` log entries, one line each where possible. pino-pretty
   * writes an entry as a header line plus indented `key: value` lines; those
   * continuation lines are kept only for warnings and errors (where the
   * message and error usually are), so the tail stays readable.
   */
  tail(n = 12): string[] {
    const out: string[] = [];
    let keep = true;
    for (const line of this.#lines) {
      if (line.trim() === "") continue;
      if (/^\s/.test(line)) {
        if (keep) out.push(line);
        continue;
      }
      keep = /\b(WARN|ERROR|FATAL)\b/.test(line) || !/^\[\d\d:\d\d/.test(line);
      out.push(line);
    }
    return out.slice(-n);
  }
}

/**
 * Removes terminal colours and every other control sequence: agents-js logs
 * through pino-pretty, and its lines can quote model text (see sanitize.ts).
 */
export function stripAnsi(s: string): string {
  return printable(s);
}

/**
 * The argv that starts the agent's half of the console, dialing the broker:
 * `deno run -A <main.ts> console --connect-addr ADDR` under the CLI, or
 * `<exe> console --connect-addr ADDR` from a compiled binary (whose embedded
 * entry point is main.ts already).
 */
export function agentCommand(
  mainModule: string,
  connectAddr: string,
  extra: string[] = [],
  compiled = isCompiled(),
) {
  const exe = Deno.execPath();
  const tail = ["console", "--connect-addr", connectAddr, ...extra];
  if (compiled) return { cmd: exe, args: tail };
  const path = mainModule.startsWith("file:") ? new URL(mainModule).pathname : mainModule;
  return { cmd: exe, args: ["run", "-A", path, ...tail] };
}

/** A `--log-file` that cannot be opened for appending; a mistake to fix (exit 2). */
export class LogFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LogFileError";
  }
}

/**
 * Opens `path` for appending the agent's logs. Done before the agent is
 * spawned, so a bad path costs nothing and leaves no process behind.
 */
export function openLogFile(path: string): Deno.FsFile {
  try {
    return Deno.openSync(path, { write: true, create: true, append: true });
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "its folder does not exist"
      : e instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : e instanceof Deno.errors.IsADirectory
      ? "it is a directory"
      : (e as Error).message;
    throw new LogFileError(`--log-file ${path} cannot be written (${why}); pick another path`);
  }
}

/**
 * Longest {@link AgentProcess.close} waits for the agent's stdout and stderr to
 * reach their end once the agent has exited and its process group was ended.
 * Only a process that left the group (`setsid`) can still hold them; past this
 * the readers are cancelled, so the console never waits on it.
 */
export const PIPE_DRAIN_MS = 2_000;

/** Options of {@link AgentProcess.spawn}. */
export interface AgentSpawnOptions {
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** Also append the child's output to this open file (see {@link openLogFile}); not closed here. */
  logFile?: { writeSync(p: Uint8Array): number };
  /** Called for each output line (e.g. to drive a spinner). */
  onLine?: (line: string) => void;
}

/**
 * A running agent in its own process group (so a stop also reaches anything
 * it forked, such as an inference process). Its stdout/stderr are captured:
 * the terminal belongs to the conversation, the logs to {@link logs}.
 */
export class AgentProcess {
  readonly logs = new LogRing();
  readonly pid: number;
  /** Resolves with the exit status; never rejects. */
  readonly status: Promise<Deno.CommandStatus>;
  #exited = false;
  #pumps: Promise<void>[];
  readonly #readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
  #closed = false;
  readonly #logFile?: { writeSync(p: Uint8Array): number };
  readonly #stdin: WritableStream<Uint8Array>;

  private constructor(child: Deno.ChildProcess, opts: AgentSpawnOptions) {
    this.pid = child.pid;
    this.#stdin = child.stdin;
    this.#logFile = opts.logFile;
    this.#pumps = [
      this.#pump(child.stdout, opts.onLine),
      this.#pump(child.stderr, opts.onLine),
    ];
    this.status = child.status.then((s) => {
      this.#exited = true;
      return s;
    });
  }

  /** Starts the agent detached into its own process group. */
  static spawn(opts: AgentSpawnOptions): AgentProcess {
    const child = new Deno.Command(opts.cmd, {
      args: opts.args,
      // The agent reads EOF on this never-written pipe when the console dies,
      // even by SIGKILL, and then ends its session (core/parent_pipe.ts).
      env: { ...opts.env, [PARENT_PIPE_ENV]: "1" },
      cwd: opts.cwd,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      // Own process group: the terminal's Ctrl+C reaches only the console,
      // which decides what the agent gets (one SIGINT = graceful goodbye).
      detached: true,
    }).spawn();
    return new AgentProcess(child, opts);
  }

  /** True once the process has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** True once {@link close} has finished: the agent reaped, its group ended, its pipes closed. */
  get closed(): boolean {
    return this.#closed;
  }

  async #pump(stream: ReadableStream<Uint8Array>, onLine?: (l: string) => void): Promise<void> {
    const dec = new TextDecoder();
    let rest = "";
    const reader = stream.getReader();
    this.#readers.push(reader);
    try {
      for (;;) {
        const { done, value: chunk } = await reader.read();
        if (done) break;
        try {
          this.#logFile?.writeSync(chunk);
        } catch {
          // a full disk must not stop the agent's output from being read
        }
        rest += dec.decode(chunk, { stream: true });
        const lines = rest.split("\n");
        rest = lines.pop()!;
        for (const l of lines) {
          this.logs.push(l);
          onLine?.(stripAnsi(l));
        }
      }
    } catch {
      // stream torn down with the process, or cancelled by close()
    }
    if (rest) this.logs.push(rest);
  }

  /** Sends a signal to the agent's whole process group; false if already gone. */
  signal(sig: Deno.Signal): boolean {
    if (this.#exited) return false;
    try {
      Deno.kill(-this.pid, sig);
      return true;
    } catch {
      try {
        Deno.kill(this.pid, sig); // platforms without process groups
        return true;
      } catch {
        return false;
      }
    }
  }

  /** Waits up to `ms` for exit; true if it exited. */
  async waitExit(ms: number): Promise<boolean> {
    if (this.#exited) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<false>((r) => timer = setTimeout(() => r(false), ms));
    const done = await Promise.race([this.status.then(() => true as const), timeout]);
    clearTimeout(timer);
    return done;
  }

  /**
   * Ends the agent: optional grace wait for a voluntary exit, then SIGINT
   * (agents-js runs its graceful close), then SIGKILL to the group after
   * `killAfterMs`, as `lk` does; then {@link close}.
   */
  async stop(opts: { graceMs?: number; killAfterMs?: number } = {}): Promise<Deno.CommandStatus> {
    const { graceMs = 0, killAfterMs = 5000 } = opts;
    if (graceMs > 0) await this.waitExit(graceMs);
    if (!this.#exited) {
      this.signal("SIGINT");
      if (!(await this.waitExit(killAfterMs))) this.signal("SIGKILL");
    }
    await this.close();
    return await this.status;
  }

  /** Kills at once (second Ctrl+C): {@link close} without a chance to exit first. */
  async kill(): Promise<void> {
    await this.close();
  }

  /**
   * Closes the never-written stdin pipe: the agent reads EOF, exactly as when
   * this console dies, and ends its session as on Ctrl+C.
   */
  async closeParentPipe(): Promise<void> {
    if (!this.#stdin.locked) await this.#stdin.close().catch(() => {});
  }

  /**
   * The one end of every path: the agent killed if it still runs (SIGKILL to
   * its group) and reaped, then whatever is left in its process group ended
   * by PID (the group is the agent's PID, so it is reachable after the agent
   * exited: an inference process or a grandchild that outlived it), then its
   * output read to the end, bounded by {@link PIPE_DRAIN_MS}, and its stdin
   * pipe closed. Returns within that bound plus the reaping.
   */
  async close(): Promise<void> {
    if (!this.#exited) this.signal("SIGKILL");
    await this.status;
    try {
      Deno.kill(-this.pid, "SIGKILL");
    } catch {
      // group already empty (or no process groups here)
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const drained = await Promise.race([
      Promise.all(this.#pumps).then(() => true),
      new Promise<false>((r) => timer = setTimeout(() => r(false), PIPE_DRAIN_MS)),
    ]);
    clearTimeout(timer);
    if (!drained) {
      // A process outside the group holds the pipes: stop reading them.
      await Promise.all(this.#readers.map((r) => r.cancel().catch(() => {})));
      await Promise.all(this.#pumps);
    }
    await this.closeParentPipe();
    this.#closed = true;
  }
}
