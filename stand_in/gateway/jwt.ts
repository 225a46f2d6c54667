/**
 * HS256 JWT verification for the stand-in gateway, on WebCrypto only.
 *
 * The inference plugins mint a fresh token per request/connection with livekit-server-sdk's
 * `AccessToken` (`createAccessToken` in agents' `inference/utils.ts`): header `{alg:"HS256"}`,
 * claims `iss=<api key>`, `sub="agent"`, `nbf`, `exp` (600 s TTL) and `inference.perform=true`.
 * The secret is used as raw UTF-8 bytes, exactly as `jose` does there.
 *
 * @module
 */

/** Seconds of clock skew tolerated on `nbf`/`exp`; the signer is this same machine. */
const CLOCK_TOLERANCE_S = 10;

/** Why a token was rejected, or `undefined` when it is valid. */
export type JwtRejection = string | undefined;

function base64UrlDecode(part: string): Uint8Array<ArrayBuffer> {
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(
    Math.ceil(part.length / 4) * 4,
    "=",
  );
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(base64UrlDecode(part)));
    return v && typeof v === "object" && !Array.isArray(v)
      ? v as Record<string, unknown>
      : undefined;
  } catch {
    return undefined;
  }
}

/** Imports `secret` once as an HMAC-SHA256 verification key. */
export function importHmacKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
}

/**
 * Checks an `Authorization` header value against the gateway's key pair.
 * Returns `undefined` when accepted, else a short human-readable reason (logged, and sent
 * back in the 401 body so a failing test says why).
 */
export async function verifyBearer(
  authorization: string | null,
  apiKey: string,
  key: CryptoKey,
  nowS: number = Date.now() / 1000,
): Promise<JwtRejection> {
  if (!authorization) return "missing Authorization header";
  const m = /^Bearer\s+(\S+)$/i.exec(authorization);
  if (!m) return "Authorization is not a Bearer token";
  const parts = m[1].split(".");
  if (parts.length !== 3) return "token is not a JWT";
  const header = decodeJson(parts[0]);
  const claims = decodeJson(parts[1]);
  if (!header || !claims) return "token header/claims are not JSON";
  if (header.alg !== "HS256") return `unsupported alg ${String(header.alg)}`;
  let signature: Uint8Array<ArrayBuffer>;
  try {
    signature = base64UrlDecode(parts[2]);
  } catch {
    return "signature is not base64url";
  }
  const ok = await crypto.subtle.verify(
    "HMAC",
    key,
    signature,
    new TextEncoder().encode(`${parts[0]}.${parts[1]}`),
  );
  if (!ok) return "bad signature";
  if (claims.iss !== apiKey) return `iss ${JSON.stringify(claims.iss)} is not the api key`;
  if (claims.sub !== "agent") return `sub ${JSON.stringify(claims.sub)} is not "agent"`;
  const inference = claims.inference as Record<string, unknown> | undefined;
  if (!inference || inference.perform !== true) return "missing inference.perform grant";
  if (typeof claims.exp !== "number") return "missing exp";
  if (claims.exp + CLOCK_TOLERANCE_S < nowS) return "token expired";
  if (typeof claims.nbf === "number" && claims.nbf - CLOCK_TOLERANCE_S > nowS) {
    return "token not yet valid";
  }
  return undefined;
}

/**
 * Mints a token the way the plugins do (HS256, same claims). Lets tests and tools craft valid or
 * deliberately wrong tokens without importing livekit-server-sdk.
 */
export async function signTestToken(
  claims: Record<string, unknown>,
  secret: string,
): Promise<string> {
  const enc = (v: unknown) =>
    btoa(JSON.stringify(v)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  const body = `${enc({ alg: "HS256", typ: "JWT" })}.${enc(claims)}`;
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
  let bin = "";
  for (const b of sig) bin += String.fromCharCode(b);
  return `${body}.${btoa(bin).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_")}`;
}
