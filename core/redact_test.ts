import { assertEquals, assertStringIncludes } from "@std/assert";
import { redactUrl } from "./redact.ts";

const SECRET = "s3cr3t-VALUE";

Deno.test("redactUrl: userinfo, with and without a scheme, loses its secret", () => {
  assertEquals(
    redactUrl(`wss://key:${SECRET}@example.livekit.cloud`),
    "wss://***@example.livekit.cloud",
  );
  assertEquals(redactUrl(`https://${SECRET}@host:7880/x`), "https://***@host:7880/x");
  assertEquals(redactUrl(`key:${SECRET}@host:7880`), "***@host:7880");
});

Deno.test("redactUrl: every query and fragment value is replaced, names stay", () => {
  assertEquals(
    redactUrl(`wss://host/?access_token=${SECRET}&x=1#token=${SECRET}`),
    "wss://host/?access_token=***&x=***#token=***",
  );
});

Deno.test("redactUrl: a bare URL is unchanged, and no secret survives any mix", () => {
  assertEquals(redactUrl("wss://my-project.livekit.cloud/"), "wss://my-project.livekit.cloud/");
  for (
    const url of [
      `ws://u:${SECRET}@h:1/p?access_token=${SECRET}`,
      `  wss://${SECRET}@h  `,
      `h:1/?sig=${SECRET}`,
      `ws://h/?access_token=${SECRET}`,
    ]
  ) {
    const out = redactUrl(url);
    assertEquals(out.includes(SECRET), false, out);
    assertStringIncludes(out, "***");
  }
});
