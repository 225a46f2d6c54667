import { assertEquals, assertStringIncludes } from "@std/assert";
import fc from "fast-check";
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

Deno.test("redactUrl: the review's malformed URLs lose their whole userinfo", () => {
  assertEquals(redactUrl("wss://key:sec#ret@host"), "wss://***@host");
  assertEquals(redactUrl("wss://key:sec?ret@host"), "wss://***@host");
  assertEquals(redactUrl("wss://key:sec/ret@host"), "wss://***@host");
  assertEquals(redactUrl("wss://key:p@ss@host"), "wss://***@host");
});

/** What a secret is made of: letters and digits, and every character that ends a part of a URL. */
const SECRET_CHARS = [..."abcXYZ019-_.~%!$&'()*+,;=", ..."#?/@:"];
const NAME = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/);

/**
 * A URL as an operator may mistype it: a scheme (or none), a user, a secret
 * that holds at least one of `#?/@:`, a host, maybe a port, a path and a
 * query with a token, and exactly what {@link redactUrl} must make of it.
 */
const typedUrl = fc.record({
  scheme: fc.constantFrom("wss://", "ws://", "https://", "http://", ""),
  user: fc.option(NAME, { nil: undefined }),
  secret: fc.tuple(
    fc.string({ unit: fc.constantFrom(...SECRET_CHARS), minLength: 1, maxLength: 16 }),
    fc.constantFrom(..."#?/@:"),
    fc.string({ unit: fc.constantFrom(...SECRET_CHARS), maxLength: 16 }),
  ).map(([a, b, c]) => a + b + c),
  host: fc.tuple(NAME, fc.constantFrom(".livekit.cloud", ".example", "")).map(([a, b]) => a + b),
  port: fc.option(fc.integer({ min: 1, max: 65535 }).map((p) => `:${p}`), { nil: "" }),
  path: fc.constantFrom("", "/", "/rtc", "/v1/x"),
  token: fc.option(fc.stringMatching(/^[A-Za-z0-9._-]{1,20}$/), { nil: undefined }),
}).map((u) => {
  const userinfo = u.user === undefined ? u.secret : `${u.user}:${u.secret}`;
  const query = u.token === undefined ? "" : `?access_token=${u.token}`;
  const rest = `${u.host}${u.port}${u.path}`;
  return {
    ...u,
    url: `${u.scheme}${userinfo}@${rest}${query}`,
    redacted: `${u.scheme}***@${rest}${u.token === undefined ? "" : "?access_token=***"}`,
  };
});

Deno.test("redactUrl (property): no secret, whatever it holds, survives; the host, port and path do", () => {
  fc.assert(
    fc.property(typedUrl, (u) => {
      // Without a scheme, a userinfo that starts like one (`//x`, `key://x`) is read as one.
      fc.pre(u.scheme !== "" || !/^([a-z][a-z0-9+.-]*:)?\/\//i.test(u.url));
      const out = redactUrl(u.url);
      assertEquals(out, u.redacted, `${u.url} -> ${out}`);
      if (u.token !== undefined) assertEquals(out.includes(`=${u.token}`), false);
    }),
    { numRuns: 2_000 },
  );
});
