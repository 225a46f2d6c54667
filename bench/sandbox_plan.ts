/**
 * Runs a bench's part inside the test sandbox with its plan in a file and its result read back
 * from another: the benches that measure in a real room (density, the recipe side by side) plan
 * outside the sandbox (where the Python and Node peers are prepared) and measure inside it.
 *
 * @module
 */
import { runInSandbox } from "../testing/real_room/sandbox.ts";
import { fromFileUrl, join, ROOT } from "./node_peer/paths_root.ts";

/**
 * Runs `script` (a module taking `--plan FILE --out FILE`) inside the sandbox with `plan`, and
 * returns what it wrote to its out file. Throws, naming `what`, when it exits non-zero.
 */
export async function runPlanInSandbox<T>(
  script: URL,
  plan: unknown,
  what: string,
  options: { required?: boolean } = {},
): Promise<T> {
  const planFile = await Deno.makeTempFile({ prefix: "bench-plan-", suffix: ".json" });
  const outFile = await Deno.makeTempFile({ prefix: "bench-out-", suffix: ".json" });
  try {
    await Deno.writeTextFile(planFile, JSON.stringify(plan));
    const code = await runInSandbox([
      Deno.execPath(),
      "run",
      "-A",
      "--config",
      join(ROOT, "deno.json"),
      fromFileUrl(script),
      "--plan",
      planFile,
      "--out",
      outFile,
    ], options);
    if (code !== 0) throw new Error(`${what} exited ${code}`);
    return JSON.parse(await Deno.readTextFile(outFile)) as T;
  } finally {
    await Deno.remove(planFile).catch(() => {});
    await Deno.remove(outFile).catch(() => {});
  }
}
