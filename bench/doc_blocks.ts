/**
 * Where the benchmarks keep their figures: each bench replaces its own block, between
 * `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`, in the docs page that holds it
 * ({@link BENCHMARKS_DOC} or {@link COMPARISON_DOC}), then lays the page out as `deno fmt` does so
 * `deno task ok` stays clean after a run. Tables there fit {@link DOC_TABLE_WIDTH} columns: the
 * renderers keep cells short (legends and lists carry the long words), and their tests check the
 * width with {@link tableWidth}.
 *
 * @module
 */
import { join, ROOT } from "./node_peer/paths_root.ts";

/** The page with the Deno/Node, room load and voice path blocks (from the repository root). */
export const BENCHMARKS_DOC = "docs/benchmarks.md";
/** The page with the side-by-side comparison with LiveKit's Python recipe. */
export const COMPARISON_DOC = "docs/comparison.md";
/** Widest a table line in the docs may be, as `deno fmt` pads it. */
export const DOC_TABLE_WIDTH = 120;

/** The block's markers: `<!-- bench:start -->` unnamed, else `<!-- bench:NAME:start -->`. */
export function blockMarkers(name = ""): { start: string; end: string } {
  const tag = name ? `bench:${name}` : "bench";
  return { start: `<!-- ${tag}:start -->`, end: `<!-- ${tag}:end -->` };
}

/** `doc` with the block named `name` replaced by `block`, or appended when it has none. */
export function withDocBlock(doc: string, block: string, name = ""): string {
  const { start, end } = blockMarkers(name);
  const text = `${start}\n${block}\n${end}`;
  const a = doc.indexOf(start);
  const b = doc.indexOf(end);
  if (a >= 0 && b > a) return doc.slice(0, a) + text + doc.slice(b + end.length);
  return `${doc.trimEnd()}\n\n${text}\n`;
}

/**
 * The widest line of the Markdown tables in `markdown` once `deno fmt` has padded them: per
 * table, the widest cell of each column plus the pipes and spaces between (0 without tables).
 */
export function tableWidth(markdown: string): number {
  let widest = 0;
  let table: string[][] = [];
  const flush = () => {
    if (table.length === 0) return;
    const cols = Math.max(...table.map((r) => r.length));
    let width = 1;
    for (let c = 0; c < cols; c++) {
      width += Math.max(3, ...table.map((r) => [...(r[c] ?? "")].length)) + 3;
    }
    widest = Math.max(widest, width);
    table = [];
  };
  for (const line of markdown.split("\n")) {
    const t = line.trim();
    if (!t.startsWith("|")) {
      flush();
      continue;
    }
    const cells = t.slice(1, t.endsWith("|") ? -1 : undefined).split(/(?<!\\)\|/)
      .map((c) => c.trim());
    // The delimiter row's dashes are padded to the column, not counted.
    if (cells.every((c) => /^:?-+:?$/.test(c))) continue;
    table.push(cells);
  }
  flush();
  return widest;
}

/**
 * Replaces the block named `name` in the docs page `doc` (a path from the repository root) and
 * formats the page; returns the page's path.
 */
export async function writeDocBlock(doc: string, block: string, name = ""): Promise<string> {
  const path = join(ROOT, doc);
  await Deno.writeTextFile(path, withDocBlock(await Deno.readTextFile(path), block, name));
  // The block as rendered is not padded; `deno task ok` checks the docs' formatting.
  await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", "--config", join(ROOT, "deno.json"), path],
    stdout: "null",
    stderr: "null",
  }).output();
  return path;
}
