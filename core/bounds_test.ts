import { assert, assertEquals } from "@std/assert";
import * as bounds from "./bounds.ts";

const ROOT = new URL("../", import.meta.url);

/** One row of the table in `bounds.ts`'s module doc. */
interface Row {
  stage: string;
  constants: string[];
  modules: string[];
}

/** The table's rows: the constants each stage links, and the modules it names as enforcing them. */
function boundsTable(source: string): Row[] {
  const rows = source.split("\n")
    .map((l) => l.replace(/^\s*\*\s?/, ""))
    .filter((l) => l.startsWith("| ") && !l.startsWith("| Stage") && !l.startsWith("| ---"));
  return rows.map((l) => {
    const [stage, bound, who] = l.slice(2, -2).split(" | ");
    return {
      stage,
      constants: [...bound.matchAll(/\{@link (\w+)\}/g)].map((m) => m[1]),
      modules: [...who.matchAll(/`([\w/]+\.ts)`/g)].map((m) => m[1]),
    };
  });
}

/** What is wrong with the table: a module that does not exist, or none of a row's modules using its bound. */
function tableErrors(source: string, read: (path: string) => string | undefined): string[] {
  const errors: string[] = [];
  // Rows enforced by agents-js itself name no module of ours.
  for (const row of boundsTable(source).filter((r) => r.modules.length > 0)) {
    const texts = row.modules.map((m) => [m, read(m)] as const);
    for (const [m, text] of texts) {
      if (text === undefined) errors.push(`"${row.stage}": ${m} does not exist`);
    }
    for (const c of row.constants) {
      if (!texts.some(([, text]) => text !== undefined && new RegExp(`\\b${c}\\b`).test(text))) {
        errors.push(`"${row.stage}": ${c} is used in none of ${row.modules.join(", ")}`);
      }
    }
  }
  return errors;
}

function readModule(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(new URL(path, ROOT));
  } catch {
    return undefined;
  }
}

Deno.test("bounds: the table names, for every bound, modules that exist and use it", () => {
  const source = Deno.readTextFileSync(new URL("./bounds.ts", import.meta.url));
  const rows = boundsTable(source);
  assert(rows.length >= 15, `the table was not read (${rows.length} rows)`);
  for (const row of rows) {
    for (const c of row.constants) {
      assert(c in bounds, `"${row.stage}" links ${c}, not in bounds.ts`);
    }
  }
  assertEquals(tableErrors(source, readModule), []);
});

Deno.test("bounds: the table check catches a row that names the wrong module", () => {
  const wrong = " * | Speech | {@link SPEECH_DRAIN_TIMEOUT_MS} | `core/job_end.ts` |\n" +
    " * | Gone | {@link SESSION_CLOSE_TIMEOUT_MS} | `core/job.ts` |";
  assertEquals(tableErrors(wrong, readModule), [
    '"Speech": SPEECH_DRAIN_TIMEOUT_MS is used in none of core/job_end.ts',
    '"Gone": core/job.ts does not exist',
    '"Gone": SESSION_CLOSE_TIMEOUT_MS is used in none of core/job.ts',
  ]);
});
