/**
 * The one way every command says it was given an option it does not know:
 * `unknown option --ofline; did you mean --offline? (see deno task console --help)`,
 * naming the closest known option when one alone is close (a typo of one or
 * two letters, or the start of a longer name).
 *
 * @module
 */

/** Edits (insert, delete, substitute, swap two neighbours) between `a` and `b`. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/**
 * The known option `given` most likely meant, or undefined when none is close
 * or two are equally close: the single nearest within two edits (one for
 * short names), else the single known option that starts with it.
 */
export function closestOption(given: string, known: readonly string[]): string | undefined {
  const name = given.split("=")[0];
  const limit = name.replace(/^-+/, "").length <= 4 ? 1 : 2;
  const scored = known.map((k) => ({ k, d: editDistance(name, k) })).filter((s) => s.d <= limit)
    .sort((x, y) => x.d - y.d);
  if (scored.length === 1 || (scored.length > 1 && scored[0].d < scored[1].d)) return scored[0].k;
  if (scored.length > 1) return undefined;
  const prefixed = name.length > 3 ? known.filter((k) => k.startsWith(name)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** The message for an unknown option of `deno task <command>` (one line). */
export function unknownOptionMessage(
  given: string,
  command: string,
  known: readonly string[],
): string {
  const option = given.split("=")[0];
  const near = closestOption(option, known);
  return `unknown option ${option}${near ? `; did you mean ${near}?` : ""} ` +
    `(see deno task ${command} --help)`;
}
