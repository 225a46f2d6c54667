/**
 * What the compile recipe leaves out of `node_modules`, against the real
 * node_modules of this checkout, and how npm's platform fields and the store's
 * folder names are read.
 */
import { assert, assertEquals, assertFalse } from "@std/assert";
import { matchesPlatform, storeNameToPackage } from "./exclusions.ts";
import { type CompilePlan, DEFAULT_TARGET, planCompile, TARGETS } from "./plan.ts";

const linux = TARGETS[DEFAULT_TARGET];
let cached: CompilePlan | undefined;
async function plan(): Promise<CompilePlan> {
  return cached ??= await planCompile();
}

Deno.test("other platforms' native binaries, musl sharp and typescript are excluded", async () => {
  const p = await plan();
  const rel = p.exclusions.map((e) => e.path.slice(p.root.length + 1));
  const has = (re: RegExp) => rel.some((r) => re.test(r));
  assert(has(/onnxruntime-node\/bin\/napi-v6\/darwin$/));
  assert(has(/onnxruntime-node\/bin\/napi-v6\/win32$/));
  assert(has(/onnxruntime-node\/bin\/napi-v6\/linux\/arm64$/));
  assertFalse(has(/onnxruntime-node\/bin\/napi-v6\/linux\/x64/));
  assertFalse(has(/onnxruntime-node\/bin\/napi-v6\/linux$/));
  // Both the store folder and the package folder the symlinks resolve to.
  assert(has(/^node_modules\/\.deno\/@img\+sharp-libvips-linuxmusl-x64@[^/]+$/));
  assert(
    has(
      /@img\+sharp-libvips-linuxmusl-x64@[^/]+\/node_modules\/@img\/sharp-libvips-linuxmusl-x64$/,
    ),
  );
  assert(has(/^node_modules\/\.deno\/typescript@[^/]+$/));
  assertFalse(has(/@img\+sharp-linux-x64@/));
  assertFalse(has(/@img\+sharp-libvips-linux-x64@/));
  assertFalse(has(/rtc-ffi-bindings-linux-x64-gnu/));
  // Every exclusion is a real path (deno compile matches them exactly).
  for (const e of p.exclusions) await Deno.lstat(e.path);
});

Deno.test("store folder names map to package names", () => {
  assertEquals(storeNameToPackage("@img+sharp-linux-x64@0.35.4"), "@img/sharp-linux-x64");
  assertEquals(storeNameToPackage("onnxruntime-node@1.24.3"), "onnxruntime-node");
  assertEquals(storeNameToPackage("node_modules"), undefined);
  assertEquals(storeNameToPackage(".deno.lock"), undefined);
});

Deno.test("npm platform fields are read as npm reads them", () => {
  assert(matchesPlatform({}, linux));
  assert(matchesPlatform({ os: ["linux"], cpu: ["x64"], libc: ["glibc"] }, linux));
  assertFalse(matchesPlatform({ os: ["linux"], cpu: ["x64"], libc: ["musl"] }, linux));
  assertFalse(matchesPlatform({ os: ["darwin"] }, linux));
  assertFalse(matchesPlatform({ cpu: ["arm64"] }, linux));
  assertFalse(matchesPlatform({ os: ["!linux"] }, linux));
  assert(matchesPlatform({ os: ["!win32"] }, linux));
  assert(matchesPlatform({ libc: ["musl"] }, TARGETS["aarch64-apple-darwin"]));
});
