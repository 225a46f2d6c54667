/**
 * How the session decides that the user finished a turn, and what happens when the end-of-turn
 * model cannot answer.
 *
 * `TURN_DETECTION=vad` and `stt` are agents-js's endpointing modes, passed through. `default` is
 * agents-js's `inference.TurnDetector` (the cloud model `turn-detector-v1` in `dev`, `connect` and
 * console; the local `turn-detector-v1-mini` in `start`; cloud falls back to local), with one
 * change: its local model runs through {@link GuardedEotExecutor}.
 *
 * Why: in agents-js 1.9.0 a local prediction that cannot run (console mode has no inference
 * process, a worker's inference process can die or be missing) is scored 0, below every
 * threshold, so that turn waits the maximum endpointing delay (2.5 s) for a model that is not
 * there. The guard answers such a request with agents-js's own "positive default" (probability 1,
 * the value its local transport already uses when no executor exists), so the turn ends by
 * VAD/STT endpointing after the minimum delay, and says so once in the log. In console mode it
 * also makes the local model available, loaded in this process on first need
 * (`local_eot_model.ts`), so that a cloud detector that fails is replaced by a real model.
 *
 * @module
 */
import { getJobContext, inference, type ipc, log } from "@livekit/agents";
import type { TurnDetection } from "./config.ts";
import { type EotAnswer, type EotRequest, LocalEotModel } from "./local_eot_model.ts";

/** agents-js's inference method of the local end-of-turn runner (`inference/eot/runner.ts`). */
export const EOT_INFERENCE_METHOD = "lk_eot_audio";

/** The probability a fallback answers with: agents-js's "commit after the minimum delay". */
export const FALLBACK_PROBABILITY = 1;

/** Who answered one end-of-turn request. */
export type EotDecision =
  | { by: "model"; where: "inference_process" | "this_process"; probability: number; ms: number }
  | { by: "fallback"; reason: string };

/** Options of {@link GuardedEotExecutor}. */
export interface GuardOptions {
  /** The job's executor (the worker's inference process, or the console's empty one). */
  primary?: ipc.InferenceExecutor;
  /** A model this process can load itself when `primary` cannot answer (console mode). */
  local?: LocalEotModel;
  /** Called with every decision, for per-turn reporting. */
  onDecision?: (decision: EotDecision) => void;
}

/**
 * The executor the local transport of the turn detector talks to: the job's executor first, then
 * (console) the model loaded in this process, and when neither can answer, the fallback
 * probability, so the turn ends after the minimum endpointing delay instead of the maximum.
 */
export class GuardedEotExecutor implements ipc.InferenceExecutor {
  readonly #primary?: ipc.InferenceExecutor;
  readonly #local?: LocalEotModel;
  readonly #onDecision?: (decision: EotDecision) => void;
  #primaryFailed = false;
  #warned = false;
  #announcedLocal = false;
  /** Every decision so far, oldest first. */
  readonly decisions: EotDecision[] = [];

  constructor(options: GuardOptions = {}) {
    this.#primary = options.primary;
    this.#local = options.local;
    this.#onDecision = options.onDecision;
  }

  async doInference(method: string, data: unknown): Promise<unknown> {
    if (method !== EOT_INFERENCE_METHOD) {
      if (!this.#primary) throw new Error(`no inference executor for ${method}`);
      return await this.#primary.doInference(method, data);
    }
    let reason = "no inference executor in this process";
    // Once the job's executor failed, the local model (when there is one) is asked directly:
    // the console's executor fails every request the same way.
    if (this.#primary && !(this.#primaryFailed && this.#local)) {
      // No bound of its own: agents-js gives a prediction up 1 s after the turn's end (its
      // `predictionTimeout`) and decides without it; a slow model on a busy machine still counts.
      try {
        const answer = await this.#primary.doInference(method, data) as EotAnswer;
        this.#primaryFailed = false;
        return this.#decided(answer, "inference_process");
      } catch (error) {
        this.#primaryFailed = true;
        reason = error instanceof Error ? error.message : String(error);
      }
    }
    if (this.#local) {
      const local = this.#local;
      if (local.state === "ready") {
        try {
          return this.#decided(await local.predict(data as EotRequest), "this_process");
        } catch (error) {
          reason = `the local end-of-turn model failed: ${
            error instanceof Error ? error.message : error
          }`;
        }
      } else if (local.state === "failed") {
        reason = `the local end-of-turn model cannot load here: ${local.error}`;
      } else {
        reason = `${reason}; the local end-of-turn model is loading in this process`;
        this.prepareLocal();
      }
    }
    return this.#fallback(reason);
  }

  /** Where the in-process model stands (`undefined` without one). */
  get localState(): string | undefined {
    return this.#local?.state;
  }

  /**
   * Starts loading the in-process model, if this guard has one: called when the detector leaves
   * the cloud, so the load (0.5 s of CPU, more on a busy machine) is not on a turn's reply path.
   */
  prepareLocal(): void {
    const local = this.#local;
    if (!local || local.state !== "idle") return;
    log().info("loading the local end-of-turn model in this process");
    void local.load().then(() => this.#announce(local));
  }

  #decided(answer: EotAnswer, where: "inference_process" | "this_process"): EotAnswer {
    this.#record({
      by: "model",
      where,
      probability: answer.probability,
      ms: answer.inferenceDurationMs,
    });
    return answer;
  }

  #fallback(reason: string): EotAnswer {
    if (!this.#warned) {
      this.#warned = true;
      log().warn(
        { reason },
        "the end-of-turn model cannot answer; turns end by VAD/STT endpointing after the minimum delay until it can",
      );
    } else {
      log().debug({ reason }, "end-of-turn model unavailable for this turn; endpointing decides");
    }
    this.#record({ by: "fallback", reason });
    return { probability: FALLBACK_PROBABILITY, inferenceDurationMs: 0 };
  }

  #announce(local: LocalEotModel): void {
    if (this.#announcedLocal) return;
    this.#announcedLocal = true;
    if (local.state === "ready") {
      log().info(
        { load_ms: Math.round(local.loadMs ?? 0) },
        "local end-of-turn model loaded in this process; it decides turns from now on",
      );
    } else {
      log().warn(
        { reason: local.error },
        "the local end-of-turn model cannot load in this process; turns keep ending by endpointing",
      );
    }
  }

  #record(decision: EotDecision): void {
    this.decisions.push(decision);
    if (this.decisions.length > 256) this.decisions.shift();
    this.#onDecision?.(decision);
  }
}

/** What the session is given as `turnHandling.turnDetection`. */
export type SessionTurnDetection = "vad" | "stt" | inference.TurnDetector;

/** Options of {@link sessionTurnDetection}. */
export interface TurnDetectionOptions {
  /** The job's executor; default: the current job context's. */
  executor?: ipc.InferenceExecutor;
  /** Load the local model in this process when the executor cannot run it; default: console. */
  localInProcess?: boolean;
  /** Called with every end-of-turn decision of the default detector. */
  onDecision?: (decision: EotDecision) => void;
}

/**
 * The turn detection for a session: `vad`/`stt` as they are, `default` as agents-js's
 * `inference.TurnDetector` whose local model goes through a {@link GuardedEotExecutor}.
 */
export function sessionTurnDetection(
  mode: TurnDetection,
  options: TurnDetectionOptions = {},
): SessionTurnDetection {
  if (mode !== "default") return mode;
  const guard = guardedExecutor(options);
  const detector = new GuardedTurnDetector(guard);
  guards.set(detector, guard);
  return detector;
}

/** agents-js's detector, telling the guard when it leaves the cloud for the local model. */
class GuardedTurnDetector extends inference.TurnDetector {
  readonly #guard: GuardedEotExecutor;

  constructor(guard: GuardedEotExecutor) {
    super({ executor: guard });
    this.#guard = guard;
  }

  /** agents-js calls this on its cloud-to-local fallback (and nowhere else). */
  override _setModel(model: inference.TurnDetectorModel): void {
    super._setModel(model);
    if (model === "turn-detector-v1-mini") this.#guard.prepareLocal();
  }
}

const guards = new WeakMap<object, GuardedEotExecutor>();

/** The guard of a detector {@link sessionTurnDetection} built (for per-turn reporting). */
export function guardOf(detector: unknown): GuardedEotExecutor | undefined {
  return typeof detector === "object" && detector !== null ? guards.get(detector) : undefined;
}

/** The guard for the current job (or `options`), as {@link sessionTurnDetection} builds it. */
export function guardedExecutor(options: TurnDetectionOptions = {}): GuardedEotExecutor {
  const ctx = getJobContext(false);
  const primary = options.executor ?? ctx?.inferenceExecutor;
  const inProcess = options.localInProcess ?? ctx?.isFakeJob === true;
  return new GuardedEotExecutor({
    primary,
    local: inProcess ? new LocalEotModel() : undefined,
    onDecision: options.onDecision,
  });
}
