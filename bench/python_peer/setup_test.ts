import { assert, assertEquals } from "@std/assert";
import { dirname, fromFileUrl, join } from "../node_peer/paths.ts";
import {
  normalizeName,
  parsePins,
  parsePythonVersion,
  pythonFits,
  RECIPE_FILE,
  shortHash,
} from "./setup.ts";

const HERE = dirname(fromFileUrl(import.meta.url));
/** The recipe as LiveKit publishes it (a flattened web page), kept beside the repository. */
const SEED = fromFileUrl(new URL("../../../shared/seed/000_02679d9b0ec8ac7e.txt", import.meta.url));
const seedMissing = (() => {
  try {
    return !Deno.statSync(SEED).isFile;
  } catch {
    return true;
  }
})();

Deno.test("parsePins: name==version lines, extras and comments skipped, names normalized", () => {
  const pins = parsePins(
    "# comment\nlivekit-agents[silero]==1.8.9\n\nPython_Dotenv==1.2.4  # trailing\nnot a pin\nfoo>=1\n",
  );
  assertEquals([...pins], [["livekit-agents", "1.8.9"], ["python-dotenv", "1.2.4"]]);
});

Deno.test("normalizeName: PEP 503", () => {
  assertEquals(normalizeName("Foo_Bar.baz"), "foo-bar-baz");
  assertEquals(normalizeName("livekit-agents"), "livekit-agents");
});

Deno.test("parsePythonVersion and pythonFits: livekit-agents 1.8.9 needs 3.10 to 3.14", () => {
  assertEquals(parsePythonVersion("Python 3.11.7"), [3, 11, 7]);
  assertEquals(parsePythonVersion("not python"), undefined);
  assertEquals(pythonFits([3, 11, 7]), true);
  assertEquals(pythonFits([3, 10, 0]), true);
  assertEquals(pythonFits([3, 9, 18]), false);
  assertEquals(pythonFits([3, 15, 0]), false);
  assertEquals(pythonFits([2, 7, 18]), false);
});

Deno.test("shortHash: stable, 12 hex digits, differs with the input", async () => {
  const a = await shortHash("a");
  assertEquals(a, await shortHash("a"));
  assert(/^[0-9a-f]{12}$/.test(a), a);
  assert(a !== await shortHash("b"));
});

Deno.test("every top-level pin is also in the full resolved set, at the same version", async () => {
  const top = parsePins(await Deno.readTextFile(join(HERE, "requirements.txt")));
  const all = parsePins(await Deno.readTextFile(join(HERE, "constraints.txt")));
  assertEquals(top.size, 2);
  for (const [name, version] of top) assertEquals(all.get(name), version, name);
  assertEquals(all.get("livekit-plugins-silero"), top.get("livekit-agents"));
});

/** The code of the seed's "Full example" section. */
function seedFullExample(seed: string): string {
  const full = seed.slice(seed.indexOf("Full example"));
  return full.slice(full.indexOf("import logging"));
}

const squash = (s: string) => s.replace(/\s+/g, " ").trim();

Deno.test({
  name:
    "the peer runs the recipe's code unchanged (equal to the seed's full example but for whitespace)",
  ignore: seedMissing,
  fn: async () => {
    const mine = await Deno.readTextFile(join(HERE, RECIPE_FILE));
    const theirs = seedFullExample(await Deno.readTextFile(SEED));
    assertEquals(squash(mine), squash(theirs));
    // And it really is Python laid out as such (the seed's flattening lost the layout).
    assert(mine.includes("\n    async def end_session(self):\n"));
    assert(mine.includes('\nif __name__ == "__main__":\n    cli.run_app(server)\n'));
  },
});
