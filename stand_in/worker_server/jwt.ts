/**
 * Minimal HS256 JWT signing and verification with WebCrypto.
 *
 * Hand-written because `jose` (what livekit-server-sdk uses) is not in the project's import map,
 * and the stand-in only needs the HS256 subset LiveKit uses for access tokens.
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function base64url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  const b64 = text.replaceAll("-", "+").replaceAll("_", "/");
  const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

function hmacKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

/** Signs `claims` as an HS256 JWT with `secret`. */
export async function signJwt(claims: Record<string, unknown>, secret: string): Promise<string> {
  const header = base64url(encoder.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const body = base64url(encoder.encode(JSON.stringify(claims)));
  const input = `${header}.${body}`;
  const sig = await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(input));
  return `${input}.${base64url(new Uint8Array(sig))}`;
}

/** Result of {@link verifyJwt}: the claims, or why the token was refused. */
export type JwtCheck =
  | { ok: true; claims: Record<string, unknown> }
  | { ok: false; reason: string };

/**
 * Verifies an HS256 JWT's signature and `exp`/`nbf` against `secret`.
 * Returns the reason as text rather than throwing, so the stand-in can send it as the 401 body
 * like livekit-server does.
 */
export async function verifyJwt(token: string, secret: string): Promise<JwtCheck> {
  const parts = token.split(".");
  if (parts.length !== 3) return { ok: false, reason: "malformed token" };
  const [header, body, sig] = parts as [string, string, string];
  let valid: boolean;
  try {
    valid = await crypto.subtle.verify(
      "HMAC",
      await hmacKey(secret),
      fromBase64url(sig),
      encoder.encode(`${header}.${body}`),
    );
  } catch {
    return { ok: false, reason: "malformed token" };
  }
  if (!valid) return { ok: false, reason: "invalid token signature" };
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(decoder.decode(fromBase64url(body)));
  } catch {
    return { ok: false, reason: "malformed token claims" };
  }
  const now = Date.now() / 1000;
  if (typeof claims.exp === "number" && claims.exp < now) {
    return { ok: false, reason: "token expired" };
  }
  if (typeof claims.nbf === "number" && claims.nbf > now + 5) {
    return { ok: false, reason: "token not yet valid" };
  }
  return { ok: true, claims };
}
