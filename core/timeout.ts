/**
 * A bounded wait: a promise raced against a timer that never outlives the
 * race. Running past the bound is an outcome the caller handles (a warning
 * naming what stalled, then moving on), not an exception, so it is a value.
 *
 * @module
 */

/**
 * Resolves with `promise`'s value, or with {@link TIMED_OUT} when `ms` passes
 * first; the timer never outlives the race.
 */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The value {@link withTimeout} resolves to when the bound passed first. */
export const TIMED_OUT: unique symbol = Symbol("timed out");
