/**
 * `deno task compile:verify`: builds the executable (where a base runtime is
 * available) and runs it through the smoke suite of `compile/smoke.ts`,
 * printing binary size, first-run extraction time and cold start.
 *
 *   deno task compile:verify                    # build, then smoke-test dist/exit-message
 *   deno task compile:verify --binary PATH      # smoke-test a binary built elsewhere
 *   deno task compile:verify --against-deno-run # check the smoke suite itself on `deno run -A main.ts`
 *   (--no-measure: skip the payload measurement; --offline: do not probe the download host)
 *
 * Exit status: 0 every smoke check passed; 1 a check or the build failed;
 * 3 no base runtime (`denort`) here, so no binary was built or run (the message
 * says which command to run where one is available). A result is only ever
 * reported for a process this script actually ran.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { build, NO_BASE_RUNTIME_EXIT_CODE } from "./build.ts";
import { canDownloadBaseRuntime, downloadUrl, findBaseRuntime } from "./denort.ts";
import { mb, PAYLOAD_BUDGET_BYTES, planCompile } from "./plan.ts";
import { type CheckResult, runSuite } from "./smoke.ts";

export { NO_BASE_RUNTIME_EXIT_CODE };

/** Report lines for results. */
export function report(results: readonly CheckResult[]): string {
  return results.map((r) =>
    `  ${r.ok ? "PASS" : "FAIL"}  ${r.name} (${(r.ms / 1000).toFixed(1)} s): ${r.detail}`
  ).join("\n");
}

/** Where a self-extracting binary may have unpacked itself (Deno 2.7+, then older names). */
export function extractionCandidates(binary: string, env = Deno.env): string[] {
  const dir = dirname(binary);
  const name = binary.split("/").pop()!;
  const data = env.get("XDG_DATA_HOME") ?? join(env.get("HOME") ?? "/root", ".local", "share");
  return [join(dir, `.${name}`), join(dir, `${name}.fs`), join(data, name)];
}

/**
 * deno compile's own account of what it would embed, using the `deno` CLI as a
 * stand-in base runtime. The file it writes is NOT a working exit-message
 * binary (the CLI cannot run an embedded program); it is deleted at once.
 */
export async function measureWithStandIn(root: string): Promise<string | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "exit-message-measure-" });
  try {
    const plan = await planCompile({ root, output: join(dir, "measure-only"), noCheck: true });
    const out = await new Deno.Command(Deno.execPath(), {
      args: plan.args,
      cwd: plan.root,
      env: { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return /Files: ([0-9.]+\s*[KMG]B)/.exec(text)?.[1];
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function downloadUrlNote(triple: string): string {
  return `${downloadUrl(Deno.version.deno, triple)} (not reachable)`;
}

/** Runs `deno task compile:verify`; returns the exit status. */
export async function verify(args: readonly string[]): Promise<number> {
  const againstDenoRun = args.includes("--against-deno-run");
  const binaryAt = args.indexOf("--binary");
  const noMeasure = args.includes("--no-measure");
  // Do not probe the download host (treat it as unreachable): for tests and air-gapped machines.
  const offline = args.includes("--offline");
  const plan = await planCompile();
  console.log(`payload: ${mb(plan.payloadBytes)} to embed (budget ${mb(PAYLOAD_BUDGET_BYTES)})`);
  const cwd = await Deno.makeTempDir({ prefix: "exit-message-verify-" });
  try {
    if (againstDenoRun) {
      const inv = {
        cmd: Deno.execPath(),
        prefix: ["run", "-A", join(plan.root, "main.ts")],
        label: "deno run",
      };
      console.log(
        "smoke suite against `deno run -A main.ts` (checks the suite itself; NOT a test of a compiled binary):",
      );
      const results = await runSuite(inv, cwd);
      console.log(report(results));
      return results.every((r) => r.ok) ? 0 : 1;
    }
    let binary: string;
    if (binaryAt >= 0) {
      binary = args[binaryAt + 1];
      if (!binary) {
        console.error("error: --binary needs a path");
        return 2;
      }
    } else {
      const runtime = await findBaseRuntime({ target: plan.target.triple });
      const available = runtime.found ||
        (!offline && await canDownloadBaseRuntime(plan.target.triple));
      const notRun = async () => {
        if (!noMeasure) {
          const files = await measureWithStandIn(plan.root);
          if (files) {
            console.log(
              `deno compile's own count of embedded files: ${files} (measured with the deno CLI as a ` +
                "stand-in base runtime; that output is not a runnable binary and was deleted)",
            );
          }
        }
        console.error(
          [
            `NOT RUN: no base runtime (denort ${Deno.version.deno}, ${plan.target.triple}) is available,`,
            "so no executable was built and no smoke check ran. Looked at:",
            ...(runtime.found ? [] : runtime.looked).map((l) => `  ${l}`),
            "  " + downloadUrlNote(plan.target.triple),
            "Run this where denort is available (DENORT_BIN=/path/to/denort, the zip in the Deno cache,",
            "or access to dl.deno.land):",
            "  deno task compile:verify",
            "or build there with `deno task compile` and check the file here with:",
            "  deno task compile:verify --binary dist/exit-message",
          ].join("\n"),
        );
        return NO_BASE_RUNTIME_EXIT_CODE;
      };
      if (!available) return await notRun();
      binary = join(plan.root, plan.output);
      const built = await build([]);
      if (built === NO_BASE_RUNTIME_EXIT_CODE) return await notRun();
      if (built !== 0) return built;
    }
    binary = await Deno.realPath(binary);
    // Start from a clean slate so the first run really extracts.
    for (const d of extractionCandidates(binary)) {
      await Deno.remove(d, { recursive: true }).catch(() => {});
    }
    const size = (await Deno.stat(binary)).size;
    const inv = { cmd: binary, prefix: [], label: binary };
    const results = await runSuite(inv, cwd);
    const extracted = [];
    for (const d of extractionCandidates(binary)) {
      if (await Deno.stat(d).then(() => true, () => false)) extracted.push(d);
    }
    console.log(`binary: ${binary}, ${mb(size)}`);
    console.log(`first run (includes extraction): ${(results[0].ms / 1000).toFixed(1)} s`);
    console.log(`cold start (--help, already extracted): ${(results[1].ms / 1000).toFixed(1)} s`);
    console.log(
      `extracted to: ${extracted.length ? extracted.join(", ") : "(not found where expected)"}`,
    );
    console.log(report(results));
    return results.every((r) => r.ok) ? 0 : 1;
  } finally {
    await Deno.remove(cwd, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await verify(Deno.args));
