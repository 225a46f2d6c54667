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
