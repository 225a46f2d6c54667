/**
 * A mistake the user can fix (bad flag, missing variable, unreadable file).
 *
 * `main.ts` prints its message as one line, without a stack trace, and exits
 * with {@link USAGE_EXIT_CODE}. Messages say what went wrong and what to do.
 */
export class UserError extends Error {
  /** Creates a user-facing error; `message` is printed as is. */
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}

/** Exit status for user mistakes (as `sysexits`' EX_USAGE spirit, but the common shell value). */
export const USAGE_EXIT_CODE = 2;

/**
 * Exit status of a console whose session ended because the models failed
 * (`MAX_FAILED_TURNS` failed turns in a row: `end_reason` `llm_error`,
 * `tts_error` or `stt_error`). An ending the user or the agent asked for exits 0.
 */
export const MODEL_FAILURE_EXIT_CODE = 3;
