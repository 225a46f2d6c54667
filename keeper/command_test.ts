/**
 * `main.ts keeper` as a real process on loopback: its help, its one-line mistakes, its endpoint
 * (health answer, webhooks refused without the server's signature, accepted with it) and its stop
 * on SIGTERM. What it does with a call is tested against the real server in
 * `room_recovery_test.ts`.
 */
import { assertEquals, assertStringIncludes } from "@std/assert";
import { WebhookEvent } from "@livekit/protocol";
import { AccessToken } from "livekit-server-sdk";
import { USAGE_EXIT_CODE } from "../core/errors.ts";
import { runMain } from "../testing/process.ts";
import { freeTcpPort } from "../testing/real_room/livekit_server.ts";
import { BLANK_ENV, spawnWorker } from "../testing/real_room/worker_process.ts";

const KEYS = {
  LIVEKIT_API_KEY: "devkey",
  LIVEKIT_API_SECRET: "devsecret-devsecret-devsecret-0123",
};

Deno.test("keeper --help lists its options; exit 0", async () => {
  const result = await runMain(["keeper", "--help"]);
  assertEquals(result.code, 0, result.stderr);
  for (const flag of ["--join-timeout", "--answer-timeout", "KEEPER_PORT", "webhook.urls"]) {
    assertStringIncludes(result.stdout, flag);
  }
});

Deno.test("keeper without a server URL, or on a port in use: one line, exit 2", async () => {
  const noUrl = await runMain(["keeper"], { env: KEYS });
  assertEquals(noUrl.code, USAGE_EXIT_CODE);
  assertEquals(noUrl.stderr.trim().split("\n").length, 1, noUrl.stderr);
  assertStringIncludes(noUrl.stderr, "LIVEKIT_URL is not set");

  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = String((busy.addr as Deno.NetAddr).port);
    const result = await runMain(["keeper", "--port", port, "--host", "127.0.0.1"], {
      env: { ...KEYS, LIVEKIT_URL: "ws://127.0.0.1:9" },
    });
    assertEquals(result.code, USAGE_EXIT_CODE);
    assertEquals(result.stderr.trim().split("\n").length, 1, result.stderr);
    assertStringIncludes(result.stderr, `keeper port ${port}`);
  } finally {
    busy.close();
  }
});

/** A webhook body and its signature, as livekit-server sends them. */
async function signedWebhook(secret: string) {
  const body = new WebhookEvent({ event: "room_started", id: "EV_1" }).toJsonString();
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body));
  const token = new AccessToken(KEYS.LIVEKIT_API_KEY, secret);
  token.sha256 = btoa(String.fromCharCode(...new Uint8Array(hash)));
  return { body, auth: await token.toJwt() };
}

Deno.test("keeper endpoint: GET answers OK; a webhook signed with another secret is refused, its own accepted; SIGTERM exits 143", async () => {
  const port = freeTcpPort();
  const keeper = spawnWorker({
    args: ["keeper", "--port", String(port), "--host", "127.0.0.1"],
    // No server behind it: these events need no API call.
    env: { ...BLANK_ENV, ...KEYS, LIVEKIT_URL: "ws://127.0.0.1:9" },
  });
  try {
    await keeper.waitForLine(/keeping calls/, 30_000);
    const url = `http://127.0.0.1:${port}/`;
    const health = await fetch(url);
    assertEquals([health.status, (await health.text()).trim()], [200, "OK"]);

    const forged = await signedWebhook("another-secret-another-secret-0123");
    const refused = await fetch(url, {
      method: "POST",
      headers: { Authorization: forged.auth, "Content-Type": "application/webhook+json" },
      body: forged.body,
    });
    await refused.body?.cancel();
    assertEquals(refused.status, 401);
    await keeper.waitForLine(/refused a webhook: its signature does not match/, 5_000);

    const real = await signedWebhook(KEYS.LIVEKIT_API_SECRET);
    const accepted = await fetch(url, {
      method: "POST",
      headers: { Authorization: real.auth, "Content-Type": "application/webhook+json" },
      body: real.body,
    });
    await accepted.body?.cancel();
    assertEquals(accepted.status, 200);

    keeper.signal("SIGTERM");
    assertEquals((await keeper.waitForExit(15_000)).code, 143);
  } finally {
    await keeper.stop();
  }
});
