/**
 * Busy cores for tests that must hold on a loaded machine: one real child
 * process per core spinning in a loop, ended by PID when disposed.
 *
 * @module
 */

/** Spinning child processes; dispose (`await using`) to end them. */
export interface CpuLoad extends AsyncDisposable {
  /** PIDs of the spinning processes. */
  readonly pids: readonly number[];
}

/** Starts `n` processes (default: every core) that keep one core busy each until disposed. */
export function startCpuLoad(n: number = navigator.hardwareConcurrency): CpuLoad {
  const children = Array.from({ length: n }, () =>
    new Deno.Command(Deno.execPath(), {
      args: ["eval", "for (;;) {}"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn());
  return {
    pids: children.map((c) => c.pid),
    async [Symbol.asyncDispose]() {
      for (const child of children) {
        try {
          Deno.kill(child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      await Promise.all(children.map((c) => c.status));
    },
  };
}
