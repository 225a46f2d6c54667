/**
 * The worker's access token: an HS256 JWT with the `agent` video grant, as agents-js builds it with
 * livekit-server-sdk's `AccessToken` (not importable here: it is not in the project's import map).
 * @module
 */

const encoder = new TextEncoder();

function base64url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Signs a short-lived worker token (`video.agent = true`) for `apiKey` with `apiSecret`. */
export async function workerToken(apiKey: string, apiSecret: string, ttlS = 600): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const part = (o: unknown) => base64url(encoder.encode(JSON.stringify(o)));
  const input = `${part({ alg: "HS256", typ: "JWT" })}.${
    part({ iss: apiKey, nbf: now, exp: now + ttlS, video: { agent: true } })
  }`;
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(apiSecret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const sig = await crypto.subtle.sign("HMAC", key, encoder.encode(input));
  return `${input}.${base64url(new Uint8Array(sig))}`;
}
