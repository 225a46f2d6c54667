/**
 * HS256 tokens on `jose` (what livekit-server-sdk signs with), and the gateway's Bearer check.
 * The worker-endpoint stand-in signs and verifies with the same two helpers.
 *
 * The inference plugins mint a fresh token per request/connection with livekit-server-sdk's
 * `AccessToken` (`createAccessToken` in agents' `inference/utils.ts`): header `{alg:"HS256"}`,
 * claims `iss=<api key>`, `sub="agent"`, `nbf`, `exp` (600 s TTL) and `inference.perform=true`.
 * Signature and time claims are checked by {@link verifyToken}; the gateway's own claims by
 * {@link verifyBearer}.
 *
 * @module
 */
import { errors, jwtVerify, SignJWT } from "jose";

/** Seconds of clock skew tolerated on `nbf`/`exp`; the signer is this same machine. */
const CLOCK_TOLERANCE_S = 10;

/** Signs `claims` as an HS256 JWT with `secret` (raw UTF-8 bytes, as LiveKit does). */
export function signToken(claims: Record<string, unknown>, secret: string): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(
    new TextEncoder().encode(secret),
  );
}

/** Result of {@link verifyToken}: the claims, or why the token was refused. */
export type TokenCheck =
  | { ok: true; claims: Record<string, unknown> }
  | { ok: false; reason: string };

/** Verifies an HS256 JWT's signature and `exp`/`nbf` against `secret`. */
export async function verifyToken(token: string, secret: string): Promise<TokenCheck> {
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(secret), {
      algorithms: ["HS256"],
      clockTolerance: CLOCK_TOLERANCE_S,
    });
    return { ok: true, claims: payload as Record<string, unknown> };
  } catch (error) {
    if (error instanceof errors.JWTExpired) return { ok: false, reason: "token expired" };
    if (error instanceof errors.JWTClaimValidationFailed && error.claim === "nbf") {
      return { ok: false, reason: "token not yet valid" };
    }
    if (error instanceof errors.JWSSignatureVerificationFailed) {
      return { ok: false, reason: "invalid token signature" };
    }
    if (error instanceof errors.JOSEAlgNotAllowed) return { ok: false, reason: "unsupported alg" };
    return { ok: false, reason: "malformed token" };
  }
}

/** Why a token was rejected, or `undefined` when it is valid. */
export type JwtRejection = string | undefined;

/**
 * Checks an `Authorization` header value against the gateway's key pair.
 * Returns `undefined` when accepted, else a short human-readable reason (logged, and sent
 * back in the 401 body so a failing test says why).
 */
export async function verifyBearer(
  authorization: string | null,
  apiKey: string,
  apiSecret: string,
): Promise<JwtRejection> {
  if (!authorization) return "missing Authorization header";
  const m = /^Bearer\s+(\S+)$/i.exec(authorization);
  if (!m) return "Authorization is not a Bearer token";
  const check = await verifyToken(m[1], apiSecret);
  if (!check.ok) return check.reason;
  const claims = check.claims;
  if (claims.iss !== apiKey) return `iss ${JSON.stringify(claims.iss)} is not the api key`;
  if (claims.sub !== "agent") return `sub ${JSON.stringify(claims.sub)} is not "agent"`;
  const inference = claims.inference as Record<string, unknown> | undefined;
  if (!inference || inference.perform !== true) return "missing inference.perform grant";
  if (typeof claims.exp !== "number") return "missing exp";
  return undefined;
}

/** Mints a token the way the plugins do (HS256, any claims), for tests and tools. */
export const signTestToken = signToken;
