/**
 * The console's exit statuses, so scripts and tests can tell how a run ended
 * without reading its output.
 *
 * @module
 */
import { MODEL_FAILURE_EXIT_CODE } from "../core/errors.ts";

/** Exit status for a mistake the user can fix (same as main.ts). */
export const USAGE_EXIT = 2;
/** Exit status when the session could not go on (agent died, never connected, ...). */
export const FAILURE_EXIT = 1;
/** Exit status after a second Ctrl+C. */
export const INTERRUPT_EXIT = 130;
/**
 * Exit status when the session ended because the models failed
 * (`MAX_FAILED_TURNS` failed turns in a row; the agent exits with it too).
 */
export const MODEL_FAILURE_EXIT: typeof MODEL_FAILURE_EXIT_CODE = MODEL_FAILURE_EXIT_CODE;
