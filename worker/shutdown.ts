/**
 * Signal handling and the bounded shutdown of the worker.
 *
 * - SIGTERM (deploy, scale-down), or the first SIGINT: stop taking jobs and tell the server
 *   (`start` only, as agents-js: `server.drain()` sends WS_FULL and rejects new offers), wait for
 *   active jobs up to the drain timeout, then close the worker (jobs still running are asked to
 *   end, goodbye included) within the shutdown grace. Whatever process is still below the worker
 *   then is ended by PID (SIGKILL), and the worker exits 143 (SIGTERM) or 130 (SIGINT).
 * - A second SIGINT at any time: end every descendant by PID at once and exit 130.
 * - A second SIGTERM changes nothing (the first one's deadline still holds).
 *
 * Why the hard deadline: agents-js 1.9.0's own close can wait forever (a SIGTERM while an idle
 * process is still prewarming leaves `ProcPool.close()` waiting on a process that never reports
 * back; `drainTimeout` does not cover `close()`), and its second-SIGINT path exits without ending
 * the child processes, which linger until their 15 s orphan timer.
 * @module
 */
import { killDescendants } from "../core/process_tree.ts";

/** What the shutdown needs from agents-js's `AgentServer`. */
export interface DrainableServer {
  drain(timeoutMs?: number): Promise<unknown>;
  close(): Promise<unknown>;
  readonly activeJobs: readonly unknown[];
}

/** Minimal pino-like logger surface. */
export interface ShutdownLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** Options of {@link ShutdownController}. */
export interface ShutdownOptions {
  logger: ShutdownLogger;
  /** Drain active jobs before closing (`start`); dev/connect close at once, as agents-js. */
  drain: boolean;
  drainTimeoutMs: number;
  shutdownGraceMs: number;
  /** Ends the process; replaced in unit tests. */
  exit?: (code: number) => never;
}

/** Exit status after SIGINT (128 + 2), as agents-js. */
export const SIGINT_EXIT_CODE = 130;
/** Exit status after SIGTERM (128 + 15), as agents-js. */
export const SIGTERM_EXIT_CODE = 143;

/** Owns the worker's signal handlers and its one bounded way out. */
export class ShutdownController {
  readonly #opts: ShutdownOptions;
  readonly #abort = new AbortController();
  #server?: DrainableServer;
  #stopping?: Promise<never>;
  #listeners: [Deno.Signal, () => void][] = [];

  constructor(opts: ShutdownOptions) {
    this.#opts = opts;
  }

  /** Aborted once a shutdown started (stops a preflight retry loop). */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Whether a shutdown is under way. */
  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  /** The server to drain and close; until set, a shutdown just exits. */
  attach(server: DrainableServer): void {
    this.#server = server;
  }

  /** Installs the SIGTERM and SIGINT handlers (agents-js's CLI is not used, so none exist yet). */
  install(): void {
    const onTerm = () => {
      if (this.stopping) {
        this.#opts.logger.warn(
          "SIGTERM received again; still shutting down within the deadline (SIGINT exits at once)",
        );
        return;
      }
      void this.stop("SIGTERM", SIGTERM_EXIT_CODE);
    };
    const onInt = () => {
      if (this.stopping) {
        this.immediate("SIGINT received again");
        return;
      }
      void this.stop("SIGINT", SIGINT_EXIT_CODE);
    };
    for (const [sig, fn] of [["SIGTERM", onTerm], ["SIGINT", onInt]] as const) {
      Deno.addSignalListener(sig, fn);
      this.#listeners.push([sig, fn]);
    }
  }

  /** Removes the signal handlers (tests). */
  uninstall(): void {
    for (const [sig, fn] of this.#listeners.splice(0)) Deno.removeSignalListener(sig, fn);
  }

  /**
   * Drains (if configured), closes within the grace, ends leftovers by PID, exits with `code`.
   * Calling it again returns the same shutdown.
   */
  stop(why: string, code: number): Promise<never> {
    this.#stopping ??= this.#run(why, code);
    return this.#stopping;
  }

  /** Ends every descendant by PID now and exits with 130: the "Ctrl+C twice" path. */
  immediate(why: string): never {
    const killed = killDescendants();
    this.#opts.logger.warn(
      `${why}: exiting now${killed.length ? `, killed ${describe(killed)}` : ""}`,
    );
    return this.#exit(SIGINT_EXIT_CODE);
  }

  async #run(why: string, code: number): Promise<never> {
    const { logger, drainTimeoutMs, shutdownGraceMs } = this.#opts;
    this.#abort.abort(new DOMException(why, "AbortError"));
    const server = this.#server;
    if (server) {
      const active = server.activeJobs.length;
      if (this.#opts.drain && drainTimeoutMs > 0) {
        logger.info(
          `${why}: draining: no new jobs; waiting up to ${
            secs(drainTimeoutMs)
          } for ${active} active job(s) to end`,
        );
        // agents-js bounds drain() with the same timeout; the extra second guards against a drain
        // that never settles (its join of a process that is not started yet).
        const startedAt = performance.now();
        let drainError: unknown;
        const outcome = await within(
          server.drain(drainTimeoutMs).catch((e) => {
            drainError = e;
            throw e;
          }),
          drainTimeoutMs + 1_000,
        );
        // agents-js rejects with WorkerError("timed out draining") at its own timeout.
        let timedOut = outcome === "timeout" ||
          (drainError instanceof Error && /timed out/.test(drainError.message));
        if (outcome === "failed" && !timedOut) {
          // agents-js's drain joins every pool process, and join() throws "runner not started"
          // for an idle process still queued behind another one's start-up: the drain then
          // rejects at once and would cut the active calls short. Such a queued process only
          // exists with the idle pool, where a job's process leaves `activeJobs` when it exits,
          // so waiting for that list to empty is the drain agents-js meant to do.
          logger.warn(
            `drain stopped early (${
              drainError instanceof Error ? drainError.message : String(drainError)
            }); waiting for the active job(s) here`,
          );
          timedOut = !(await until(
            () => server.activeJobs.length === 0,
            startedAt + drainTimeoutMs - performance.now(),
          ));
        }
        if (timedOut) {
          logger.warn(
            `drain timed out after ${
              secs(drainTimeoutMs)
            } with ${server.activeJobs.length} job(s) still active; ending them`,
          );
        }
      } else {
        logger.info(`${why}: shutting down; ending ${active} active job(s)`);
      }
      const closed = await within(server.close(), shutdownGraceMs);
      if (closed === "timeout") {
        logger.error(
          `the worker did not close within ${secs(shutdownGraceMs)}; ending its processes by PID`,
        );
      } else if (closed === "failed") {
        logger.error("the worker failed to close cleanly; ending its processes by PID");
      }
    }
    const killed = killDescendants();
    if (killed.length > 0) {
      logger.warn(`killed ${describe(killed)} still running at exit`);
    }
    logger.info(`worker stopped (${why})`);
    return this.#exit(code);
  }

  #exit(code: number): never {
    this.uninstall();
    return (this.#opts.exit ?? Deno.exit)(code);
  }
}

/** Resolves "done", "failed" or "timeout", never rejects, and leaves no timer behind. */
async function within(p: Promise<unknown>, ms: number): Promise<"done" | "failed" | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([p.then(() => "done" as const, () => "failed" as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves true once `check()` holds, false after `ms`. Polls every 200 ms: agents-js emits no
 * event when a job's process ends.
 */
async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() >= deadline) return false;
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(200, deadline - performance.now()))
    );
  }
  return true;
}

function secs(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

function describe(pids: number[]): string {
  return `${pids.length} leftover process(es) (pid ${pids.join(", ")})`;
}
