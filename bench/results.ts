/**
 * Where the benches keep their results: `bench/results/<name>`, the latest run of each only
 * (earlier runs stay in git's history).
 *
 * @module
 */
import { join, ROOT } from "./node_peer/paths_root.ts";

/** Writes `result` as `bench/results/<name>` (pretty JSON); returns that path, relative. */
export async function writeLatestResult(name: string, result: unknown): Promise<string> {
  const dir = join(ROOT, "bench/results");
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, name), JSON.stringify(result, null, 2) + "\n");
  return `bench/results/${name}`;
}
