/**
 * Prepares the Node.js peer of the benchmark: a scratch folder (outside the repository) with
 * the npm packages pinned in `deno.json` / `deno.lock` installed by npm, `tsx` to run
 * TypeScript, and a fresh copy of the project's agent code (main.ts, agent.ts, prewarm.ts,
 * core/, worker/, console/agent_process.ts), so Node runs the same files Deno runs.
 *
 * Lifecycle scripts are skipped (`--ignore-scripts`), as Deno skips them: onnxruntime-node's
 * install script downloads from the internet, and the package ships its linux-x64 binary anyway.
 *
 * @module
 */
import { EXTRA_MODULES } from "../../compile/plan.ts";
import { dirname, fromFileUrl, join, pathToFileURL, ROOT } from "./paths_root.ts";

/** The TypeScript runner the peer uses (pinned; the version npm resolved when the bench was written). */
export const TSX_VERSION = "4.23.15";

/**
 * The peer's entry, written next to the copied main.ts: what main.ts's `if (import.meta.main)`
 * block does, for Node 20, which has no `import.meta.main`.
 */
export const NODE_MAIN =
  `// Written by bench/node_peer/setup.ts: main.ts's import.meta.main block, for Node 20.
import process from "node:process";
import { main } from "./main.ts";
import { USAGE_EXIT_CODE, UserError } from "./core/errors.ts";

try {
  await main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UserError)) throw error;
  console.error(\`error: \${error.message}\`);
  process.exit(USAGE_EXIT_CODE);
}
`;

/** What the bench needs to start the peer. */
export interface NodePeer {
  /** Scratch folder holding package.json, node_modules and the copied sources. */
  dir: string;
  /** `node` executable. */
  node: string;
  /** `node --version`. */
  nodeVersion: string;
  /** Arguments before the project's own command line (`--import tsx ... node_main.ts`). */
  prefix: string[];
  /** Resolved versions of the key packages, as installed. */
  versions: Record<string, string>;
}

/** `name@version[/subpath]` of an `npm:` specifier, or undefined for anything else. */
export function parseNpmSpecifier(spec: string): { name: string; version: string } | undefined {
  const m = /^npm:(@?[^@/]+(?:\/[^@/]+)?)@([^/]+)/.exec(spec);
  return m ? { name: m[1], version: m[2] } : undefined;
}

/**
 * npm `overrides` pinning every package that deno.lock resolves to exactly one version, so the
 * peer's dependency tree matches Deno's (packages locked at several versions are left to npm).
 */
export function lockOverrides(lock: { npm?: Record<string, unknown> }): Record<string, string> {
  const versions = new Map<string, Set<string>>();
  for (const key of Object.keys(lock.npm ?? {})) {
    const at = key.indexOf("@", 1);
    if (at < 0) continue;
    const name = key.slice(0, at);
    const version = key.slice(at + 1).split("_")[0];
    if (!versions.has(name)) versions.set(name, new Set());
    versions.get(name)!.add(version);
  }
  const out: Record<string, string> = {};
  for (const [name, set] of [...versions].sort(([a], [b]) => a.localeCompare(b))) {
    if (set.size === 1) out[name] = [...set][0];
  }
  return out;
}

async function run(cmd: string, args: string[], cwd: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${out.code}):\n${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return text.trim();
}

/** Repository-relative paths of every local module in the graphs of `entries`. */
export async function localModules(entries: string[]): Promise<string[]> {
  const files = new Set<string>();
  for (const entry of entries) {
    const json = await run(
      Deno.execPath(),
      ["info", "--json", "--config", join(ROOT, "deno.json"), join(ROOT, entry)],
      ROOT,
    );
    for (const m of JSON.parse(json).modules as { specifier: string }[]) {
      if (!m.specifier.startsWith("file:")) continue;
      const path = fromFileUrl(m.specifier);
      if (path.startsWith(ROOT)) files.add(path.slice(ROOT.length));
    }
  }
  return [...files].sort();
}

/**
 * Installs (once; reused while package.json is unchanged) and refreshes the sources (every
 * call). `log` receives one line per step.
 */
export async function prepareNodePeer(log: (line: string) => void = () => {}): Promise<NodePeer> {
  const tmp = Deno.env.get("TMPDIR") || "/tmp";
  const dir = join(tmp, "exit-message-bench-node-peer");
  await Deno.mkdir(dir, { recursive: true });
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const lock = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.lock")));
  const dependencies: Record<string, string> = {};
  // `@std/x` maps to a file of the npm package deno-std (deno.json); Node resolves bare names to
  // packages only, so each gets a one-file package re-exporting that file (written below).
  const stdShims: Record<string, string> = {};
  for (const [name, spec] of Object.entries(config.imports as Record<string, string>)) {
    const p = parseNpmSpecifier(spec);
    if (!p) continue;
    dependencies[p.name] = p.version;
    if (p.name === "deno-std") stdShims[name] = `deno-std${spec.slice(spec.indexOf("/"))}`;
  }
  dependencies.tsx = TSX_VERSION;
  const overrides = lockOverrides(lock);
  for (const name of Object.keys(dependencies)) delete overrides[name];
  const pkg = JSON.stringify(
    {
      name: "exit-message-node-peer",
      private: true,
      type: "module",
      dependencies,
      overrides,
    },
    null,
    2,
  ) + "\n";
  const pkgPath = join(dir, "package.json");
  let current = "";
  try {
    current = await Deno.readTextFile(pkgPath);
  } catch { /* first run */ }
  let installed = false;
  try {
    installed = (await Deno.stat(join(dir, "node_modules/@livekit/agents/package.json"))).isFile;
  } catch { /* not yet */ }
  if (current !== pkg || !installed) {
    log(`node peer: npm install into ${dir} (once)`);
    await Deno.writeTextFile(pkgPath, pkg);
    await run("npm", [
      "install",
      "--ignore-scripts",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
    ], dir);
  }
  for (const [name, target] of Object.entries(stdShims)) {
    const shim = join(dir, "node_modules", name);
    await Deno.mkdir(shim, { recursive: true });
    await Deno.writeTextFile(
      join(shim, "package.json"),
      JSON.stringify({ name, type: "module", main: "index.js" }) + "\n",
    );
    await Deno.writeTextFile(join(shim, "index.js"), `export * from "${target}";\n`);
  }
  // The same files Deno runs, copied fresh so the peer never runs stale code: every local
  // module of main.ts's and agent.ts's graphs (as `deno info` lists them), same relative paths.
  const src = join(dir, "src");
  await Deno.remove(src, { recursive: true }).catch(() => {});
  // main.ts's graph and the modules it loads by path (the agent, the call host), as the compiled
  // binary embeds them.
  for (const file of await localModules(["main.ts", ...EXTRA_MODULES])) {
    const to = join(src, file);
    await Deno.mkdir(dirname(to), { recursive: true });
    await Deno.copyFile(join(ROOT, file), to);
  }
  const here = dirname(fromFileUrl(import.meta.url));
  await Deno.writeTextFile(join(src, "node_main.ts"), NODE_MAIN);
  await Deno.copyFile(join(here, "deno_shim.mjs"), join(dir, "deno_shim.mjs"));

  const node = "node";
  const nodeVersion = await run(node, ["--version"], dir);
  const versions: Record<string, string> = {};
  for (const name of [...Object.keys(dependencies), "onnxruntime-node"]) {
    try {
      const p = JSON.parse(
        await Deno.readTextFile(join(dir, "node_modules", name, "package.json")),
      );
      versions[name] = p.version;
    } catch { /* not installed */ }
  }
  return {
    dir,
    node,
    nodeVersion,
    prefix: [
      "--import",
      pathToFileURL(join(dir, "node_modules/tsx/dist/loader.mjs")).href,
      "--import",
      pathToFileURL(join(dir, "deno_shim.mjs")).href,
      join(src, "node_main.ts"),
    ],
    versions,
  };
}
