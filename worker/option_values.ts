/**
 * Checks of one option value each (URL, API key or secret, whole number, on/off, CPU load,
 * seconds), given as `{ value, name }` so every error names the flag or variable it came from.
 * Shared by the worker's options (options.ts) and the keeper's (keeper/options.ts), so the same
 * mistakes get the same one-line errors.
 * @module
 */
import { UserError } from "../core/errors.ts";
import { redactUrl } from "../core/redact.ts";

/** The server URL from a flag or variable, checked and normalised (ws/wss, path ending in `/`). */
export function resolveUrl(given: { value?: string; name: string }): string {
  if (given.value === undefined) {
    // agents-js would silently use ws://localhost:7880: a local server must be a choice, in every mode.
    throw new UserError(
      "LIVEKIT_URL is not set; set it (or pass --url) to your LiveKit server, e.g. wss://my-project.livekit.cloud, or ws://localhost:7880 for a local server",
    );
  }
  const raw = given.value.trim();
  let parsed: URL | undefined;
  try {
    parsed = new URL(raw);
  } catch {
    parsed = undefined;
  }
  // `new URL("localhost:7880")` parses with protocol "localhost:", hence the protocol check.
  if (
    !parsed || !["ws:", "wss:", "http:", "https:"].includes(parsed.protocol) || !parsed.hostname
  ) {
    throw new UserError(
      `${given.name}="${
        redactUrl(raw)
      }" is not a LiveKit URL; use ws://, wss://, http:// or https:// and a host, e.g. wss://my-project.livekit.cloud`,
    );
  }
  if (parsed.search || parsed.hash || parsed.username || parsed.password) {
    throw new UserError(
      `${given.name}="${
        redactUrl(raw)
      }" must not carry credentials, a query or a fragment; use the bare server URL and LIVEKIT_API_KEY/LIVEKIT_API_SECRET`,
    );
  }
  return normaliseUrl(parsed);
}

/**
 * ws(s) scheme and a path ending in "/": agents-js builds the worker URL as `url + "agent"`, so
 * `wss://host/prefix` would otherwise become `wss://host/prefixagent`.
 */
function normaliseUrl(url: URL): string {
  const out = new URL(url.href);
  out.protocol = out.protocol === "https:"
    ? "wss:"
    : out.protocol === "http:"
    ? "ws:"
    : out.protocol;
  if (!out.pathname.endsWith("/")) out.pathname += "/";
  return out.href;
}

/** An API key or secret from a flag or variable: present, not empty, no spaces or quotes. */
export function requireToken(
  given: { value?: string; name: string },
  flag: string,
  what: string,
): string {
  const label = given.name;
  if (given.value === undefined) {
    // `pick` names the variable when neither the flag nor the variable is set.
    throw new UserError(
      `${label} is not set; set it to your LiveKit project's ${what} in .env (see .env.example) or pass ${flag}`,
    );
  }
  if (given.value.trim() === "") {
    // Only a flag can be empty here (an empty variable counts as unset): never let it shadow the
    // environment, or agents-js would fall back to the variable behind the operator's back.
    throw new UserError(
      `${label} is empty; pass your LiveKit project's ${what}, or drop ${flag} to use the environment`,
    );
  }
  // A quoted or padded value in .env is the usual mistake; the server would reject it as 401.
  if (/\s|["']/.test(given.value)) {
    throw new UserError(
      `${label} contains spaces or quotes; remove them (check the quoting in your .env)`,
    );
  }
  return given.value;
}

/** A whole number from `min` to `max` from a flag or variable, or `undefined` when not given. */
export function integer(given: { value?: string; name: string }, min: number, max: number) {
  if (given.value === undefined) return undefined;
  const v = given.value.trim();
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) {
    throw new UserError(
      `${given.name}="${given.value}" is not valid; use a whole number from ${min} to ${max}`,
    );
  }
  return n;
}

/** On or off (`on`/`off`, `true`/`false`, `1`/`0`, `yes`/`no`), or `undefined` when not given. */
export function onOff(given: { value?: string; name: string }) {
  if (given.value === undefined) return undefined;
  const v = given.value.trim().toLowerCase();
  if (["on", "true", "1", "yes"].includes(v)) return true;
  if (["off", "false", "0", "no"].includes(v)) return false;
  throw new UserError(`${given.name}="${given.value}" is not valid; use on or off`);
}

/** A CPU load above 0 and at most 1 from a flag or variable, or `undefined` when not given. */
export function fraction(given: { value?: string; name: string }) {
  if (given.value === undefined) return undefined;
  const v = given.value.trim();
  const n = Number(v);
  if (v === "" || !Number.isFinite(n) || n <= 0 || n > 1) {
    throw new UserError(
      `${given.name}="${given.value}" is not valid; use a CPU load above 0 and at most 1, e.g. 0.7`,
    );
  }
  return n;
}

/** Seconds (0 to 86400) from a flag or variable, or `undefined` when not given. */
export function seconds(given: { value?: string; name: string }) {
  if (given.value === undefined) return undefined;
  const v = given.value.trim();
  const n = Number(v);
  if (v === "" || !Number.isFinite(n) || n < 0 || n > 86_400) {
    throw new UserError(
      `${given.name}="${given.value}" is not valid; use seconds from 0 to 86400, e.g. 1800`,
    );
  }
  return n;
}
