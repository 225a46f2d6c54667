/**
 * The docs hold together: every relative link in a README (any folder) or in `docs/*.md` leads to
 * a file or folder of the repository (and, with `#anchor`, to a heading of that page), every
 * `deno task NAME` they name is a task of `deno.json`, and the tables in `docs/` fit 120 columns.
 */
import { assert, assertEquals } from "@std/assert";
import { fileURLToPath } from "node:url";
import { dirname, join, relative } from "node:path";
import { DOC_TABLE_WIDTH, tableWidth } from "./bench/doc_blocks.ts";

const ROOT = dirname(fileURLToPath(import.meta.url));

/** The Markdown pages the checks cover: every README.md outside node_modules, and docs/*.md. */
function pages(dir = ROOT): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const path = join(dir, e.name);
    if (e.isDirectory) {
      if (["node_modules", "dist", ".git"].includes(e.name)) continue;
      out.push(...pages(path));
    } else if (e.name === "README.md" || (dir === join(ROOT, "docs") && e.name.endsWith(".md"))) {
      out.push(path);
    }
  }
  return out.sort();
}

/** The text without fenced code blocks and inline code, where a `[x](y)` is no link. */
function prose(md: string): string {
  return md.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "");
}

/** A heading's anchor as GitHub makes it. */
export function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/`/g, "").replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

function anchors(md: string): Set<string> {
  return new Set(
    md.replace(/^```[\s\S]*?^```/gm, "").split("\n").filter((l) => /^#{1,6} /.test(l))
      .map((l) => slug(l.replace(/^#+ /, ""))),
  );
}

/** The relative links of the page at `path` that lead nowhere, each with why. */
export function brokenLinks(path: string, md: string): string[] {
  const bad: string[] = [];
  for (const m of prose(md).matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1];
    if (/^[a-z]+:/i.test(target)) continue;
    const [file, anchor] = target.split("#");
    const to = join(dirname(path), file);
    let text = md;
    if (file) {
      try {
        const stat = Deno.statSync(to);
        text = stat.isFile && to.endsWith(".md") ? Deno.readTextFileSync(to) : "";
      } catch {
        bad.push(`${target}: no such file`);
        continue;
      }
    }
    if (anchor && (!file || to.endsWith(".md")) && !anchors(text).has(anchor)) {
      bad.push(`${target}: no heading #${anchor}`);
    }
  }
  return bad;
}

/** The `deno task NAME`s the page names that deno.json does not have. */
export function unknownTasks(md: string, tasks: Set<string>): string[] {
  return [...md.matchAll(/deno task ([a-z][\w:-]*)/g)].map((m) => m[1])
    .filter((t) => !tasks.has(t));
}

const TASKS = new Set(
  Object.keys(JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.json"))).tasks),
);

Deno.test("docs: every relative link of the READMEs and docs/ resolves", () => {
  const files = pages();
  assert(files.includes(join(ROOT, "README.md")) && files.length > 5, files.join(", "));
  const bad = files.flatMap((p) =>
    brokenLinks(p, Deno.readTextFileSync(p)).map((b) => `${relative(ROOT, p)}: ${b}`)
  );
  assertEquals(bad, []);
});

Deno.test("docs: every `deno task` they name is a task of deno.json", () => {
  const bad = pages().flatMap((p) =>
    unknownTasks(Deno.readTextFileSync(p), TASKS).map((t) => `${relative(ROOT, p)}: ${t}`)
  );
  assertEquals(bad, []);
});

Deno.test("docs: the tables of README.md and docs/ fit 120 columns", () => {
  const wide = pages().filter((p) =>
    p.startsWith(join(ROOT, "docs")) || p === join(ROOT, "README.md")
  )
    .filter((p) => tableWidth(Deno.readTextFileSync(p)) > DOC_TABLE_WIDTH)
    .map((p) => `${relative(ROOT, p)}: ${tableWidth(Deno.readTextFileSync(p))}`);
  assertEquals(wide, []);
});

Deno.test("docs checks: a broken link, a missing heading and an unknown task are found", () => {
  const page = join(ROOT, "docs", "x.md");
  const md = [
    "# Top",
    "[ok](benchmarks.md#voice-path) [self](#top) [web](https://livekit.io)",
    "[gone](nowhere.md) [no heading](benchmarks.md#nope) `[code](is-not-a-link.md)`",
    "```sh\n[fenced](also-not.md)\n```",
  ].join("\n");
  assertEquals(brokenLinks(page, md), [
    "nowhere.md: no such file",
    "benchmarks.md#nope: no heading #nope",
  ]);
  assertEquals(unknownTasks("`deno task test` and `deno task tset`", TASKS), ["tset"]);
  assertEquals(
    slug("LiveKit's Python recipe beside `this` project"),
    "livekits-python-recipe-beside-this-project",
  );
});

Deno.test("README: the two quick-start commands first, install notes after them, CI runs the test command", () => {
  const readme = Deno.readTextFileSync(join(ROOT, "README.md"));
  const blocks = [...readme.matchAll(/^```sh\n([\s\S]*?)^```/gm)].map((m) => m[1].trim());
  assertEquals(blocks.slice(0, 2), [
    "npm install -g deno@2.9.6 && deno install && deno task console --offline",
    "npm install -g deno@2.9.6 && deno install && deno task test",
  ]);
  const notes = readme.indexOf("About the install");
  assert(notes > readme.indexOf(blocks[1]), "the install notes come after the test command");
  // How to quiet the first install's download lines is said.
  assert(/`deno install -q`/.test(readme), "deno install -q");
  const ci = Deno.readTextFileSync(join(ROOT, ".ci/run"));
  const run = ci.split("\n").filter((l) => !l.trim().startsWith("#")).join("\n");
  for (const step of ['npm install -g "deno@${DENO_VERSION}"', "deno install", "deno task test"]) {
    assert(run.includes(step), `.ci/run runs ${step}`);
  }
  assert(ci.includes("DENO_VERSION=2.9.6"), ".ci/run pins the README's Deno");
});
