/**
 * Figure 5: wall time of the project's test suite (`deno task test`, i.e. `deno test -A`), run
 * as a child from the repository root. Failures are reported, not hidden: a failing suite's
 * time is still a time, but the run says so on stderr.
 *
 * @module
 */
import { ROOT } from "./node_peer/paths_root.ts";

/** Runs the suite once; resolves with its wall time in ms. */
export async function suiteRun(timeoutMs = 900_000): Promise<number> {
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--quiet"],
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, timeoutMs);
  try {
    const out = await child.output();
    const ms = performance.now() - t0;
    if (!out.success) {
      const tail = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
      console.error(`  test suite exited ${out.code} (time kept): ${tail}`);
    }
    return ms;
  } finally {
    clearTimeout(timer);
  }
}
