/**
 * The compile recipe against the real node_modules of this checkout: budget,
 * the files the binary cannot run without, and the flags. What is excluded:
 * `compile/exclusions_test.ts`.
 */
import { assert, assertEquals, assertFalse } from "@std/assert";
import { dirname, join } from "node:path";
import { isExcluded } from "./exclusions.ts";
import {
  compileArgs,
  type CompilePlan,
  DEFAULT_TARGET,
  mb,
  PAYLOAD_BUDGET_BYTES,
  planCompile,
  requiredAssets,
  TARGETS,
} from "./plan.ts";

const linux = TARGETS[DEFAULT_TARGET];
let cached: CompilePlan | undefined;
async function plan(): Promise<CompilePlan> {
  return cached ??= await planCompile();
}

Deno.test("the linux x64 payload stays within the 220 MB budget", async () => {
  const p = await plan();
  assert(
    p.payloadBytes <= PAYLOAD_BUDGET_BYTES,
    `payload ${mb(p.payloadBytes)} > budget ${mb(PAYLOAD_BUDGET_BYTES)}`,
  );
  // And the exclusions are what gets it there: the whole tree would not fit.
  assert(p.nodeModulesBytes > PAYLOAD_BUDGET_BYTES);
});

Deno.test("every file the binary needs on linux x64 exists and is not excluded", async () => {
  const p = await plan();
  const assets = await requiredAssets(p.root, linux);
  assert(assets.length >= 13, `only ${assets.length} assets found`);
  for (const rel of assets) {
    const abs = join(p.root, rel);
    assert((await Deno.stat(abs)).isFile, `${rel} missing`);
    assertFalse(isExcluded(abs, p.exclusions), `${rel} would be excluded`);
  }
});

Deno.test("the compile flags: self-extracting, preload, agent embedded, target, dist/, no env file", async () => {
  const p = await plan();
  const a = p.args;
  assertEquals(a[0], "compile");
  assert(a.includes("-A"));
  assert(a.includes("--self-extracting"));
  assert(a.includes("--frozen"));
  assertEquals(a[a.indexOf("--preload") + 1], "compile/preload.ts");
  const included = a.flatMap((x, i) => x === "--include" ? [a[i + 1]] : []);
  // The agent (imported by path in every job process) and the call host (forked by path).
  assertEquals(included, ["agent.ts", "worker/call_host/host_main.ts"]);
  assertEquals(a[a.indexOf("--target") + 1], "x86_64-unknown-linux-gnu");
  assertEquals(a[a.indexOf("--output") + 1], "dist/exit-message");
  assertEquals(a.at(-1), "main.ts");
  assertFalse(a.some((x) => x.startsWith("--env-file")), "never bake .env into the binary");
  assertFalse(a.includes("--no-check"), "type-checks unless asked not to");
  assertEquals(a.filter((x) => x === "--exclude").length, p.exclusions.length);
});

Deno.test("--no-check and other targets change only what they should", () => {
  const args = compileArgs({
    root: "/r",
    target: TARGETS["aarch64-unknown-linux-gnu"],
    output: "dist/exit-message-aarch64-unknown-linux-gnu",
    exclusions: [],
    noCheck: true,
  });
  assert(args.includes("--no-check"));
  assertEquals(args[args.indexOf("--target") + 1], "aarch64-unknown-linux-gnu");
});

Deno.test("an aarch64 plan keeps linux/arm64 onnxruntime and drops linux/x64", async () => {
  const p = await planCompile({ target: "aarch64-unknown-linux-gnu" });
  const rel = p.exclusions.map((e) => e.path.slice(p.root.length + 1));
  assert(rel.some((r) => r.endsWith("napi-v6/linux/x64")));
  assertFalse(rel.some((r) => r.endsWith("napi-v6/linux/arm64")));
  assertEquals(p.output, "dist/exit-message-aarch64-unknown-linux-gnu");
});

/**
 * Emulates --self-extracting: copies the kept files of the native packages
 * into a fresh directory with the same layout, then asks the dynamic loader
 * (ldd) whether each addon finds its libraries there, beside itself, with no
 * LD_LIBRARY_PATH. This is breakage (a) and (b) of a non-extracting binary.
 */
Deno.test("after extraction, each native addon finds its libraries beside itself", async () => {
  const p = await plan();
  const assets = await requiredAssets(p.root, linux);
  const natives = assets.filter((a) => a.endsWith(".node"));
  const dirs = new Set<string>();
  for (const a of assets) {
    if (/\.node$|\.so(\.|$)/.test(a)) dirs.add(dirname(a));
  }
  const tmp = await Deno.makeTempDir({ prefix: "exit-message-extract-" });
  try {
    // Copy every kept file of each native folder (and the model), not just the assets.
    for (const d of dirs) {
      for await (const e of Deno.readDir(join(p.root, d))) {
        const rel = join(d, e.name);
        if (!e.isFile || isExcluded(join(p.root, rel), p.exclusions)) continue;
        await Deno.mkdir(join(tmp, d), { recursive: true });
        await Deno.copyFile(join(p.root, rel), join(tmp, rel));
      }
    }
    // Recreate the store's dependency symlinks (the VFS keeps them and
    // extraction writes them back): sharp's rpath reaches libvips through one.
    const stores = new Set(
      natives.map((n) => n.replace(/(node_modules\/\.deno\/[^/]+\/node_modules)\/.*$/, "$1")),
    );
    for (const store of stores) {
      for await (const e of walkSymlinks(join(p.root, store), 2)) {
        const rel = e.slice(p.root.length + 1);
        await Deno.mkdir(join(tmp, dirname(rel)), { recursive: true });
        await Deno.symlink(await Deno.readLink(e), join(tmp, rel)).catch(() => {});
      }
    }
    for (const n of natives) {
      const out = await new Deno.Command("ldd", {
        args: [join(tmp, n)],
        env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assertEquals(out.code, 0, `ldd ${n}: ${new TextDecoder().decode(out.stderr)}`);
      assertFalse(text.includes("not found"), `${n}:\n${text}`);
      // The bundled libraries resolve inside the extracted tree, not elsewhere.
      for (const lib of ["libonnxruntime.so", "libvips-cpp.so"]) {
        const line = text.split("\n").find((l) => l.includes(lib));
        if (line) assert(line.includes(tmp), `${n}: ${line.trim()} resolved outside the tree`);
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

/** Symlinks directly in `dir` or one level down (scoped packages), not followed. */
async function* walkSymlinks(dir: string, depth: number): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const path = join(dir, e.name);
    if (e.isSymlink) yield path;
    else if (e.isDirectory && depth > 1 && e.name.startsWith("@")) {
      yield* walkSymlinks(path, depth - 1);
    }
  }
}
