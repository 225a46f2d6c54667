import { assertEquals } from "@std/assert";
import {
  cachedZipPath,
  canDownloadBaseRuntime,
  denoDir,
  downloadUrl,
  findBaseRuntime,
} from "./denort.ts";

const T = "x86_64-unknown-linux-gnu";
const env = (vars: Record<string, string>) => ({ get: (k: string) => vars[k] });

Deno.test("DENO_DIR, then XDG_CACHE_HOME, then ~/.cache/deno", () => {
  assertEquals(denoDir(env({ DENO_DIR: "/d", HOME: "/h" })), "/d");
  assertEquals(denoDir(env({ XDG_CACHE_HOME: "/x", HOME: "/h" })), "/x/deno");
  assertEquals(denoDir(env({ HOME: "/h" })), "/h/.cache/deno");
  assertEquals(denoDir(env({})), undefined);
});

Deno.test("the cached zip path is the one deno compile reads", () => {
  assertEquals(
    cachedZipPath("/h/.cache/deno", "2.9.6", T),
    "/h/.cache/deno/dl/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip",
  );
  assertEquals(
    downloadUrl("2.9.6", T),
    "https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip",
  );
});

Deno.test("DENORT_BIN wins when it names a file", async () => {
  const got = await findBaseRuntime({
    target: T,
    denoVersion: "2.9.6",
    env: env({ DENORT_BIN: "/opt/denort", HOME: "/h" }),
    isFile: (p) => Promise.resolve(p === "/opt/denort"),
  });
  assertEquals(got, { found: true, via: "DENORT_BIN", path: "/opt/denort" });
});

Deno.test("the cached zip is found when DENORT_BIN is unset", async () => {
  const zip = "/h/.cache/deno/dl/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip";
  const got = await findBaseRuntime({
    target: T,
    denoVersion: "2.9.6",
    env: env({ HOME: "/h" }),
    isFile: (p) => Promise.resolve(p === zip),
  });
  assertEquals(got, { found: true, via: "cache", path: zip });
});

Deno.test("nothing found: every place looked at is listed", async () => {
  const got = await findBaseRuntime({
    target: T,
    denoVersion: "2.9.6",
    env: env({ DENORT_BIN: "/nope", DENO_DIR: "/d" }),
    isFile: () => Promise.resolve(false),
  });
  assertEquals(got, {
    found: false,
    looked: [
      "DENORT_BIN=/nope (no such file)",
      "/d/dl/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip",
    ],
  });
});

Deno.test("download probe: a HEAD that fails or errors means unavailable", async () => {
  const seen: string[] = [];
  const failing = ((input: string | URL | Request, init?: RequestInit) => {
    seen.push(`${init?.method} ${input}`);
    return Promise.reject(new TypeError("dns error"));
  }) as typeof fetch;
  assertEquals(await canDownloadBaseRuntime(T, { version: "2.9.6", fetch: failing }), false);
  assertEquals(seen, [`HEAD ${downloadUrl("2.9.6", T)}`]);
  const notFound = (() => Promise.resolve(new Response(null, { status: 404 }))) as typeof fetch;
  assertEquals(await canDownloadBaseRuntime(T, { fetch: notFound }), false);
  const ok = (() => Promise.resolve(new Response(null, { status: 200 }))) as typeof fetch;
  assertEquals(await canDownloadBaseRuntime(T, { fetch: ok }), true);
});
