/**
 * Bearer checks for the stand-in gateway.
 *
 * The inference plugins mint a fresh token per request/connection with livekit-server-sdk's
 * `AccessToken` (`createAccessToken` in agents' `inference/utils.ts`): header `{alg:"HS256"}`,
 * claims `iss=<api key>`, `sub="agent"`, `nbf`, `exp` (600 s TTL) and `inference.perform=true`.
 * Signature and time claims are checked by the stand-ins' shared {@link verifyToken}; the
 * gateway's own claims here.
 *
 * @module
 */
import { signToken, verifyToken } from "../jwt.ts";

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
