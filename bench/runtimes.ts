/**
 * The two runtimes the benchmark compares, each running the project's own command line:
 * Deno runs `main.ts` in place; Node runs a fresh copy of the same files from the peer's
 * scratch folder (see `node_peer/setup.ts`).
 *
 * @module
 */
import { join, ROOT } from "./node_peer/paths_root.ts";
import type { NodePeer } from "./node_peer/setup.ts";

/** Runtime names, in the order each pair runs (alternated per pair, see `main.ts`). */
export type RuntimeName = "deno" | "node";

/** How to start the project's command line under one runtime. */
export interface Runtime {
  name: RuntimeName;
  /** Executable. */
  cmd: string;
  /** Arguments before the project's own (`console ...`, `start ...`). */
  prefix: string[];
  /** Working directory (no `.env` in it, so nothing leaks in). */
  cwd: string;
  /** `deno --version` first line or `node --version`. */
  version: string;
  /** Environment the project needs under this runtime, beside each bench's own. */
  env: Record<string, string>;
}

/**
 * What the project runs with under Node: agents-js's own process per call, since a call host
 * (`worker/call_host/host_main.ts`) starts on `import.meta.main`, which Node lacks; and
 * agents-js's own health server, since the metrics front is `Deno.serve`.
 */
export const NODE_PEER_ENV: Readonly<Record<string, string>> = {
  CALLS_PER_PROCESS: "1",
  METRICS: "off",
};

/** The Deno runtime running this bench, on the project's main.ts. */
export function denoRuntime(cwd: string): Runtime {
  return {
    name: "deno",
    cmd: Deno.execPath(),
    prefix: ["run", "-A", "--config", join(ROOT, "deno.json"), join(ROOT, "main.ts")],
    cwd,
    version: `deno ${Deno.version.deno} (V8 ${Deno.version.v8})`,
    env: {},
  };
}

/** The Node peer prepared by `prepareNodePeer`. */
export function nodeRuntime(peer: NodePeer): Runtime {
  return {
    name: "node",
    cmd: peer.node,
    prefix: peer.prefix,
    cwd: peer.dir,
    version: `node ${peer.nodeVersion.replace(/^v/, "")}`,
    env: { ...NODE_PEER_ENV },
  };
}

/** A clean environment for a child: PATH, HOME, no colours, plus `extra`. */
export function childEnv(extra: Record<string, string>): Record<string, string> {
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/tmp",
    NO_COLOR: "1",
    ...extra,
  };
}
