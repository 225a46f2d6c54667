/**
 * HS256 tokens for the stand-ins, on `jose` (what livekit-server-sdk signs
 * with): sign arbitrary claims, so tests can craft valid and deliberately wrong
 * tokens, and verify signature and time claims, returning the reason as text so
 * a stand-in can send it in its 401 body like livekit-server does.
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
