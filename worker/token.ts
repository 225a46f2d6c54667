/**
 * The worker's access token, minted as agents-js mints it: livekit-server-sdk's
 * `AccessToken` with the `agent` video grant.
 *
 * @module
 */
import { AccessToken } from "livekit-server-sdk";

/** Signs a short-lived worker token (`video.agent = true`) for `apiKey` with `apiSecret`. */
export function workerToken(apiKey: string, apiSecret: string, ttlS = 600): Promise<string> {
  const token = new AccessToken(apiKey, apiSecret, { ttl: ttlS });
  token.addGrant({ agent: true });
  return token.toJwt();
}
