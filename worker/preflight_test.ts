import { assertEquals, assertMatch, assertRejects } from "@std/assert";
import { WorkerServerStandIn } from "../testing/fakes/worker_server.ts";
import {
  ConnectFailure,
  preflight,
  probeWorkerEndpoint,
  retryDelayMs,
  retryWindowMs,
} from "./preflight.ts";
import { closedPort } from "./testdata/harness.ts";

function recorder() {
  const lines: string[] = [];
  return {
    lines,
    logger: { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) },
  };
}

Deno.test("probe: the stand-in accepts a correctly signed worker token", async () => {
  const si = await WorkerServerStandIn.start();
  try {
    const url = `${si.url}/`;
    assertEquals(await probeWorkerEndpoint({ url, ...si.credentials }), undefined);
    assertEquals(si.workerSockets, 1);
  } finally {
    await si.close();
  }
});

Deno.test("probe: classifies refused, 401, 404 and 503", async () => {
  const si = await WorkerServerStandIn.start();
  const busy = await WorkerServerStandIn.start({
    refuseWorkers: { status: 503, body: "overloaded" },
  });
  try {
    const refused = await probeWorkerEndpoint({
      url: `ws://127.0.0.1:${closedPort()}/`,
      ...si.credentials,
    });
    assertEquals([refused?.kind, refused?.permanent], ["refused", false]);

    const auth = await probeWorkerEndpoint({
      url: `${si.url}/`,
      apiKey: "devkey",
      apiSecret: "wrong-secret-0123456789abcdef0123",
    });
    assertEquals([auth?.kind, auth?.permanent], ["auth", true]);
    assertMatch(auth!.cause, /HTTP 401: invalid token signature/);

    const unknownKey = await probeWorkerEndpoint({
      url: `${si.url}/`,
      apiKey: "other",
      apiSecret: si.credentials.apiSecret,
    });
    assertMatch(unknownKey!.cause, /HTTP 401: unknown API key/);

    const notFound = await probeWorkerEndpoint({ url: `${si.url}/nope/`, ...si.credentials });
    assertEquals([notFound?.kind, notFound?.permanent], ["not_found", true]);

    const overloaded = await probeWorkerEndpoint({ url: `${busy.url}/`, ...si.credentials });
    assertEquals([overloaded?.kind, overloaded?.permanent], ["http", false]);
    assertMatch(overloaded!.cause, /HTTP 503: overloaded/);
  } finally {
    await si.close();
    await busy.close();
  }
});

Deno.test("preflight: transient failures are retried with visible lines, then a final error", async () => {
  const busy = await WorkerServerStandIn.start({ refuseWorkers: { status: 503, body: "busy" } });
  const { lines, logger } = recorder();
  try {
    const error = await assertRejects(
      () => preflight({ url: `${busy.url}/`, ...busy.credentials, maxRetry: 1, logger }),
      ConnectFailure,
    );
    assertEquals(lines.length, 1);
    // The first failure says what was tried, why, and how long the retries will take in all.
    assertMatch(
      lines[0]!,
      /^cannot connect to LiveKit server at ws:\/\/127\.0\.0\.1:\d+\/: tried ws:\/\/127\.0\.0\.1:\d+\/agent: HTTP 503: busy; retry 1 of 1 in 1 s, 1 retry over 1 s in all, then exit 1 \(--max-retry or MAX_RETRY sets how many; check LIVEKIT_URL if it is mistyped\)$/,
    );
    assertMatch(
      error.message,
      /giving up on LiveKit server at .* after 2 attempts: HTTP 503: busy/,
    );
  } finally {
    await busy.close();
  }
});

Deno.test("preflight: a rejected key is final at once, and an abort stops the retries", async () => {
  const si = await WorkerServerStandIn.start();
  const { lines, logger } = recorder();
  try {
    const error = await assertRejects(
      () =>
        preflight({
          url: `${si.url}/`,
          apiKey: "devkey",
          apiSecret: "wrong-secret-0123456789abcdef0123",
          maxRetry: 5,
          logger,
        }),
      ConnectFailure,
    );
    assertEquals(lines, []);
    assertMatch(error.message, /rejected the worker: credentials rejected \(HTTP 401/);

    const abort = new AbortController();
    abort.abort(new DOMException("SIGTERM", "AbortError"));
    await assertRejects(
      () =>
        preflight({
          url: `${si.url}/`,
          ...si.credentials,
          maxRetry: 5,
          logger,
          signal: abort.signal,
        }),
      DOMException,
    );
  } finally {
    await si.close();
  }
});

Deno.test("retry back-off: 1, 2, 4, 8, then 10 s; the default 10 retries wait 75 s in all", () => {
  assertEquals([1, 2, 3, 4, 5, 9].map(retryDelayMs), [1000, 2000, 4000, 8000, 10000, 10000]);
  assertEquals([retryWindowMs(0), retryWindowMs(1), retryWindowMs(10)], [0, 1000, 75_000]);
});

Deno.test("preflight: a wrong URL is said at once, in one line, with the retries ahead", async () => {
  const { lines, logger } = recorder();
  const said: string[] = [];
  const abort = new AbortController();
  // A loopback port nothing listens on: the URL of a server that is not there.
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const done = preflight({
    url: `ws://127.0.0.1:${port}/`,
    apiKey: "devkey",
    apiSecret: "secret-0123456789abcdef0123456789",
    maxRetry: 10,
    logger,
    signal: abort.signal,
    firstFailure: (line) => {
      said.push(line);
      abort.abort(new DOMException("stop", "AbortError"));
    },
  });
  await assertRejects(() => done, DOMException);
  assertEquals(lines, said);
  assertEquals(said.length, 1);
  assertMatch(
    said[0],
    new RegExp(
      `^cannot connect to LiveKit server at ws://127\\.0\\.0\\.1:${port}/: tried ws://127\\.0\\.0\\.1:${port}/agent: ` +
        `connection refused \\(nothing listens on 127\\.0\\.0\\.1:${port}\\); retry 1 of 10 in 1 s, ` +
        "10 retries over 75 s in all, then exit 1 \\(--max-retry or MAX_RETRY sets how many; check LIVEKIT_URL if it is mistyped\\)$",
    ),
  );
});
