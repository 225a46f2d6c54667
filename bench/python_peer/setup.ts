/**
 * Prepares the Python peer of the benchmark: LiveKit's own "Exit Message" recipe
 * (`exit_message.py`, the recipe's code unchanged) in a scratch virtual environment outside the
 * repository, with the recipe's prerequisites installed from PyPI at the pins of
 * `requirements.txt` (top level) and `constraints.txt` (the whole resolved set).
 *
 * The environment lives under `$XDG_CACHE_HOME/exit-message/python-peer/<key>` (default
 * `~/.cache/...`), where `<key>` hashes the pins and the interpreter's version: it is built once
 * and reused while the pins stay the same. The recipe file is copied fresh, on every call, into a
 * scratch folder beside it, so its `load_dotenv()` cannot pick up a `.env` of this repository
 * (python-dotenv searches upward from the script's folder).
 *
 * @module
 */
import { dirname, fromFileUrl, join } from "../node_peer/paths.ts";

/** The recipe's Python file, as copied next to the environment. */
export const RECIPE_FILE = "exit_message.py";

/** Interpreter versions `livekit-agents` 1.8.9 accepts (its `Requires-Python: >=3.10,<3.15`). */
export const PYTHON_RANGE = { min: [3, 10], maxExclusive: [3, 15] } as const;

/** What the bench needs to run the peer. */
export interface PythonPeer {
  /** The virtual environment's folder. */
  venv: string;
  /** Its `python` executable. */
  python: string;
  /** `python --version` of it, e.g. `Python 3.11.7`. */
  pythonVersion: string;
  /** Scratch folder holding the fresh copy of the recipe (the working directory to run it in). */
  dir: string;
  /** Absolute path of the recipe's copy. */
  entry: string;
  /** Installed versions of the packages that matter for the comparison. */
  versions: Record<string, string>;
  /** True when this call built the environment, false when it reused it. */
  built: boolean;
}

/** Packages whose installed versions {@link preparePythonPeer} reports. */
export const KEY_PACKAGES = [
  "livekit-agents",
  "livekit-plugins-silero",
  "livekit",
  "livekit-api",
  "livekit-protocol",
  "livekit-local-inference",
  "python-dotenv",
  "openai",
  "aiohttp",
  "onnxruntime",
] as const;

const HERE = dirname(fromFileUrl(import.meta.url));

async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, {
      args,
      cwd: opts.cwd,
      env: opts.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`${cmd} not found on PATH`);
    throw e;
  }
  const dec = new TextDecoder();
  if (!out.success) {
    const err = dec.decode(out.stderr).trim().split("\n").slice(-15).join("\n");
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code}):\n${err}`);
  }
  return dec.decode(out.stdout).trim() || dec.decode(out.stderr).trim();
}

/** Parses `Python X.Y.Z` into numbers, or undefined. */
export function parsePythonVersion(text: string): [number, number, number] | undefined {
  const m = /Python (\d+)\.(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** True when `v` is inside {@link PYTHON_RANGE}. */
export function pythonFits(v: [number, number, number]): boolean {
  const cmp = (a: readonly number[], b: readonly number[]) => a[0] - b[0] || a[1] - b[1];
  return cmp(v, PYTHON_RANGE.min) >= 0 && cmp(v, PYTHON_RANGE.maxExclusive) < 0;
}

/**
 * The interpreter to build the environment with: `$PYTHON` when set, else the first of
 * `python3.11`, `python3` that fits {@link PYTHON_RANGE}.
 */
export async function findPython(): Promise<{ python: string; version: string }> {
  const candidates = Deno.env.get("PYTHON") ? [Deno.env.get("PYTHON")!] : [
    "python3.11",
    "python3",
  ];
  const seen: string[] = [];
  for (const c of candidates) {
    try {
      const version = await run(c, ["--version"]);
      const v = parsePythonVersion(version);
      if (v && pythonFits(v)) return { python: c, version };
      seen.push(`${c}: ${version}`);
    } catch (e) {
      seen.push(`${c}: ${(e as Error).message}`);
    }
  }
  throw new Error(
    `no Python ${PYTHON_RANGE.min.join(".")}-3.14 found (${
      seen.join("; ")
    }); install one, or set PYTHON to its path`,
  );
}

/** The cache folder the peer's environments live in. */
export function cacheRoot(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const home = Deno.env.get("HOME") ?? "/tmp";
  return join(xdg || join(home, ".cache"), "exit-message", "python-peer");
}

/** Short hex SHA-256 of `text`. */
export async function shortHash(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].slice(0, 6).map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** `name==version` pins of a requirements/constraints file (comments and blanks skipped). */
export function parsePins(text: string): Map<string, string> {
  const pins = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    const m = /^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(\S+)$/.exec(line);
    if (m) pins.set(normalizeName(m[1]), m[2]);
  }
  return pins;
}

/** PEP 503 name normalization (`Foo_Bar.baz` → `foo-bar-baz`). */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

const STAMP = ".exit-message-pins";

/**
 * Builds the environment once (reused while the pins and interpreter are unchanged) and copies
 * the recipe fresh. `log` receives one line per step.
 */
export async function preparePythonPeer(
  log: (line: string) => void = () => {},
): Promise<PythonPeer> {
  return await peer(true, log) as PythonPeer;
}

/**
 * The peer when its environment is already built for the current pins, else undefined; never
 * installs anything (for tests that use the peer only where a bench run has built it).
 */
export async function existingPythonPeer(): Promise<PythonPeer | undefined> {
  try {
    return await peer(false, () => {});
  } catch {
    return undefined;
  }
}

async function peer(
  build: boolean,
  log: (line: string) => void,
): Promise<PythonPeer | undefined> {
  const requirements = await Deno.readTextFile(join(HERE, "requirements.txt"));
  const constraints = await Deno.readTextFile(join(HERE, "constraints.txt"));
  const { python: base, version: baseVersion } = await findPython();
  const pins = `${baseVersion}\n${requirements}\n${constraints}`;
  const root = cacheRoot();
  const venv = join(root, `venv-${await shortHash(pins)}`);
  const python = join(venv, "bin", "python");
  let stamp = "";
  try {
    stamp = await Deno.readTextFile(join(venv, STAMP));
  } catch { /* not built yet */ }
  let built = false;
  if (stamp !== pins && !build) return undefined;
  if (stamp !== pins) {
    log(`python peer: building ${venv} from PyPI (once; about a minute)`);
    await Deno.remove(venv, { recursive: true }).catch(() => {});
    await Deno.mkdir(root, { recursive: true });
    await run(base, ["-m", "venv", venv]);
    const req = join(venv, "requirements.txt");
    const con = join(venv, "constraints.txt");
    await Deno.writeTextFile(req, requirements);
    await Deno.writeTextFile(con, constraints);
    await run(python, [
      "-m",
      "pip",
      "install",
      "--no-input",
      "--disable-pip-version-check",
      "--quiet",
      "-r",
      req,
      "-c",
      con,
    ]);
    await Deno.writeTextFile(join(venv, STAMP), pins);
    built = true;
  }
  const versions = await installedVersions(python);
  for (const [name, want] of parsePins(requirements)) {
    if (versions[name] !== want) {
      throw new Error(
        `python peer: ${name} is ${versions[name] ?? "missing"} in ${venv}, pinned ${want}; ` +
          `delete that folder and run again`,
      );
    }
  }
  const dir = join(root, "src");
  await Deno.mkdir(dir, { recursive: true });
  const entry = join(dir, RECIPE_FILE);
  await Deno.copyFile(join(HERE, RECIPE_FILE), entry);
  return {
    venv,
    python,
    pythonVersion: await run(python, ["--version"]),
    dir,
    entry,
    versions,
    built,
  };
}

/** Installed versions of {@link KEY_PACKAGES} (normalized names), read by the venv's Python. */
export async function installedVersions(python: string): Promise<Record<string, string>> {
  const script = [
    "import importlib.metadata as m, json, sys",
    "out = {}",
    "for n in sys.argv[1:]:",
    "    try: out[n] = m.version(n)",
    "    except m.PackageNotFoundError: pass",
    "print(json.dumps(out))",
  ].join("\n");
  const json = await run(python, ["-c", script, ...KEY_PACKAGES]);
  const raw = JSON.parse(json) as Record<string, string>;
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [normalizeName(k), v]));
}

if (import.meta.main) {
  const peer = await preparePythonPeer((l) => console.error(l));
  console.log(JSON.stringify(peer, null, 2));
}
