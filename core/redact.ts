/**
 * Secrets out of URLs before they reach a log or an error line.
 *
 * A URL given by an operator may carry credentials (`wss://key:secret@host`,
 * `?access_token=...`), and error messages echo URLs so the operator can see
 * which one is wrong. {@link redactUrl} keeps everything that identifies the
 * server (scheme, host, port, path, parameter names) and replaces every
 * secret with `***`. It works on text that does not parse as a URL too, since
 * a malformed URL is exactly the one an error line echoes.
 *
 * @module
 */

/** What replaces a secret. */
export const REDACTED = "***";

// `scheme://userinfo@`, or a bare `userinfo@host` without a scheme (a typo'd
// URL still holds the secret). The userinfo runs to the LAST "@": a secret
// may hold "@", and in a malformed URL also "/", "?", "#" or ":", so no
// character before that "@" can be told apart from the secret. A URL here
// never has an "@" anywhere else (the LiveKit URL is bare), so nothing that
// identifies the server is lost.
const USERINFO = /^((?:[a-z][a-z0-9+.-]*:)?\/\/)?(.*)@/is;
// Every query or fragment parameter value: a URL here never needs one (the
// LiveKit URL must be bare), so any value may be a token.
const PARAM_VALUE = /([?&#;][^=&#;\s]*=)[^&#;\s]*/g;

/**
 * Returns `url` with its userinfo (everything between the scheme and the last
 * `@`) and every query/fragment parameter value replaced by `***`, e.g.
 * `wss://***@host/?access_token=***`. Text without either is returned unchanged.
 */
export function redactUrl(url: string): string {
  const raw = url.trim();
  return raw
    .replace(USERINFO, (_m, scheme: string | undefined) => `${scheme ?? ""}${REDACTED}@`)
    .replace(PARAM_VALUE, `$1${REDACTED}`);
}
