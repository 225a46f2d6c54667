/**
 * A minimal `globalThis.Deno` for running the project's agent code under Node.js, for the
 * benchmark's Node peer only (never loaded by the project itself).
 *
 * The agent path (main.ts, agent.ts, prewarm.ts, core/*, worker/*, console/agent_process.ts)
 * calls a handful of Deno APIs. Each is mapped here onto its obvious Node equivalent, with the
 * same observable behaviour for the calls the project makes; nothing else of Deno exists.
 * It also polyfills `Promise.withResolvers` (ES2024), which Node 20 lacks.
 * Loaded with `node --import <this file>`; Node passes its execArgv to forked job and inference
 * processes, so they get it too.
 *
 * @module
 */
import fs from "node:fs";
import process from "node:process";

class NotFound extends Error {}
class AddrInUse extends Error {}
class ConnectionReset extends Error {}
class BadResource extends Error {}
class Interrupted extends Error {}

function mapFsError(error) {
  if (error && error.code === "ENOENT") {
    const e = new NotFound(error.message);
    e.code = error.code;
    return e;
  }
  return error;
}

const env = {
  get: (name) => process.env[name],
  set: (name, value) => {
    process.env[name] = value;
  },
  delete: (name) => {
    delete process.env[name];
  },
  has: (name) => name in process.env,
  toObject: () => ({ ...process.env }),
};

const shim = {
  env,
  pid: process.pid,
  args: process.argv.slice(2),
  build: { os: process.platform === "win32" ? "windows" : process.platform },
  errors: { NotFound, AddrInUse, ConnectionReset, BadResource, Interrupted },
  exit: (code) => process.exit(code),
  execPath: () => process.execPath,
  kill: (pid, signal = "SIGTERM") => process.kill(pid, signal),
  addSignalListener: (signal, fn) => process.on(signal, fn),
  removeSignalListener: (signal, fn) => process.off(signal, fn),
  unrefTimer: (timer) => timer?.unref?.(),
  readTextFileSync: (path) => {
    try {
      return fs.readFileSync(path, "utf8");
    } catch (error) {
      throw mapFsError(error);
    }
  },
  writeTextFileSync: (path, text, opts = {}) =>
    opts.append ? fs.appendFileSync(path, text) : fs.writeFileSync(path, text),
  statSync: (path) => {
    try {
      const s = fs.statSync(path);
      return { isFile: s.isFile(), isDirectory: s.isDirectory(), size: s.size };
    } catch (error) {
      throw mapFsError(error);
    }
  },
  readDirSync: (path) =>
    fs.readdirSync(path, { withFileTypes: true }).map((d) => ({
      name: d.name,
      isFile: d.isFile(),
      isDirectory: d.isDirectory(),
      isSymlink: d.isSymbolicLink(),
    })),
  // worker/mod.ts only listens to check that a fixed health port is free; the bench always
  // passes `--port 0`, which skips that check. Anything else is not part of the peer.
  listen: () => {
    throw new Error("Deno.listen is not available in the Node peer (use --port 0)");
  },
};

globalThis.Deno ??= shim;

// Not a Deno API but ES2024, which Node 20's V8 lacks (Node 22 has it); core/ending.ts and
// core/job_end.ts use it.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
