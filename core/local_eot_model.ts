/**
 * LiveKit's local end-of-turn model (`turn-detector-v1-mini`, from `@livekit/local-inference`)
 * loaded in this process, for the console agent.
 *
 * agents-js runs that model in a separate inference process that only its worker starts; in
 * console mode (`runConsole`) no runner is registered, so the local model "cannot run" and, in
 * 1.9.0, every turn then waits the maximum endpointing delay. The model's weights are compiled
 * into the native module (nothing to download), so this process can load it itself: the
 * synchronous ~0.5 s model load runs on a worker thread (the native model is a process-wide
 * singleton, so the main thread then finds it loaded) and predictions run on libuv's thread
 * pool, so the agent's event loop is never blocked.
 *
 * @module
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { Buffer } from "node:buffer";

/** The native module's surface this file uses. */
interface NativeEot {
  initEot(): void;
  predict(pcm: Int16Array): Promise<number>;
}

/** What agents-js's `LocalTransport` sends and expects back (see its `EotRunner`). */
export interface EotRequest {
  /** Base64 of 16 kHz s16le PCM, up to 1.2 s. */
  pcm: string;
}

/** One prediction. */
export interface EotAnswer {
  probability: number;
  inferenceDurationMs: number;
}

/**
 * Where the native module resolves from: next to `@livekit/agents`, so it is the copy agents-js
 * itself would load. Throws when it is not installed (a platform without a prebuilt binary).
 */
export function localInferencePath(): string {
  const fromAgents = createRequire(import.meta.resolve("@livekit/agents"));
  return fromAgents.resolve("@livekit/local-inference");
}

// The worker thread runs plain CommonJS, so it needs no TypeScript loader under either runtime.
const LOADER = `
const { parentPort, workerData } = require("node:worker_threads");
try {
  require(workerData.path).initEot();
  parentPort.postMessage({ ok: true });
} catch (error) {
  parentPort.postMessage({ ok: false, error: String(error && error.message || error) });
}`;

/** State of the in-process model. */
export type LocalModelState = "idle" | "loading" | "ready" | "failed";

/** The local end-of-turn model in this process, loaded on demand. */
export class LocalEotModel {
  #state: LocalModelState = "idle";
  #native?: NativeEot;
  #loading?: Promise<void>;
  #error?: string;
  #loadMs?: number;
  readonly #path: () => string;

  /** `path` resolves the native module (tests point it elsewhere to make loading fail). */
  constructor(path: () => string = localInferencePath) {
    this.#path = path;
  }

  /** Where loading stands. */
  get state(): LocalModelState {
    return this.#state;
  }

  /** Why loading failed, once it has. */
  get error(): string | undefined {
    return this.#error;
  }

  /** How long the load took, once ready. */
  get loadMs(): number | undefined {
    return this.#loadMs;
  }

  /** Starts loading (once); resolves when ready or failed, never rejects. */
  load(): Promise<void> {
    this.#loading ??= this.#load();
    return this.#loading;
  }

  async #load(): Promise<void> {
    this.#state = "loading";
    const started = performance.now();
    try {
      const path = this.#path();
      const worker = new Worker(LOADER, { eval: true, workerData: { path } });
      try {
        const result = await new Promise<{ ok: boolean; error?: string }>((resolve) => {
          worker.once("message", resolve);
          worker.once("error", (e) => resolve({ ok: false, error: String(e?.message ?? e) }));
          worker.once("exit", (code) => resolve({ ok: false, error: `loader exited (${code})` }));
        });
        if (!result.ok) throw new Error(result.error);
      } finally {
        await worker.terminate();
      }
      // Already initialised by the worker thread: this require and initEot return at once.
      const native = createRequire(import.meta.url)(path) as NativeEot;
      native.initEot();
      this.#native = native;
      this.#loadMs = performance.now() - started;
      this.#state = "ready";
    } catch (error) {
      this.#error = error instanceof Error ? error.message : String(error);
      this.#state = "failed";
    }
  }

  /** Runs one prediction; throws unless {@link state} is `ready`. */
  async predict(request: EotRequest): Promise<EotAnswer> {
    if (!this.#native) throw new Error(`the local end-of-turn model is ${this.#state}`);
    const bytes = Buffer.from(request.pcm, "base64");
    const pcm = new Int16Array(bytes.byteLength >> 1);
    new Uint8Array(pcm.buffer).set(bytes.subarray(0, pcm.byteLength));
    const started = performance.now();
    const probability = await this.#native.predict(pcm);
    return { probability, inferenceDurationMs: performance.now() - started };
  }
}
