/**
 * Cross-site request forgery and CORS, at the server (the browser test drives a real
 * cross-origin form post; these cover every route and every header combination):
 *
 * - every unsafe route (all but GET/HEAD, read from `app.routes`) refuses a request that
 *   carries an administrator's session cookie from another origin (`Sec-Fetch-Site` other
 *   than `same-origin`, a foreign or opaque `Origin`, or neither header) with 403, before
 *   any credential is looked up or any statement runs;
 * - no route answers CORS: no `Access-Control-Allow-*` header for another origin, on the
 *   request itself or on a preflight `OPTIONS`, whatever the route or credential.
 *
 * The `Origin` check compares hosts, not schemes, on purpose: behind a TLS-terminating proxy
 * the browser's `https://host` reaches the server as `http://host`; over HTTPS browsers
 * always send `Sec-Fetch-Site`, which is checked first.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ADMIN_TOKEN,
  createSecurityFixture,
  type LoggedIn,
  routesOf,
  SAME_ORIGIN,
  type SecurityFixture,
} from "./_fixture.ts";
import { fuzzParameters } from "./_fuzz.ts";

let fixture: SecurityFixture | undefined;
let admin: LoggedIn | undefined;

async function setup(): Promise<{ f: SecurityFixture; admin: LoggedIn }> {
  fixture ??= await createSecurityFixture();
  admin ??= await fixture.login("csrf-admin@example.org", true);
  return { f: fixture, admin };
}

/** Origins that are not `http://localhost` (where `app.request` sends). */
const foreignOrigin: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "null",
    "http://evil.example",
    "http://localhost.evil.example",
    "http://evil.example:80",
    "http://localhost:8080",
    "http://127.0.0.1",
    "http://[::1]",
    "http://evil.example/http://localhost",
    "http://localhost@evil.example",
    "http://xn--lcalhost-9za",
    "file://",
    "localhost",
    "",
    "http://localhost\u00a0",
  ),
  fc.webUrl().map((url) => new URL(url).origin).filter((origin) =>
    !/^https?:\/\/localhost(:80)?$/.test(origin)
  ),
);

/** Header sets a cross-site page (or a browser extension, or a sloppy proxy) may produce. */
const crossSiteHeaders: fc.Arbitrary<Record<string, string>> = fc.oneof(
  fc.record({
    "sec-fetch-site": fc.constantFrom("cross-site", "same-site", "none", "", "Same-Origin"),
  }),
  fc.record({
    "sec-fetch-site": fc.constantFrom("cross-site", "same-site", "none"),
    origin: fc.constantFrom("http://localhost", "null"),
  }),
  fc.record({ origin: foreignOrigin }),
  fc.record({ origin: foreignOrigin, referer: fc.constant("http://localhost/") }),
  fc.constant({}), // a cookie with neither header
);

const contentTypes = fc.constantFrom(
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "text/plain",
  "application/json",
);

Deno.test("every unsafe route refuses an admin's session cookie from another origin (403) before any statement runs", async () => {
  const { f, admin } = await setup();
  const unsafe = routesOf(f.app).filter((r) => !/^(GET|HEAD) /.test(r));
  assert.ok(unsafe.length >= 6, `unsafe routes: ${unsafe.join(", ")}`);
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...unsafe),
      crossSiteHeaders,
      contentTypes,
      async (route, headers, contentType) => {
        const [method, pattern] = route.split(" ");
        const path = await f.concretePath(pattern);
        const before = f.queries.length;
        const response = await f.app.request(`http://localhost${path}`, {
          method,
          headers: { cookie: admin.cookie, "content-type": contentType, ...headers },
          body: contentType.startsWith("application/json")
            ? JSON.stringify({ label: "forged", entity: "structure" })
            : "label=forged&entity=structure",
        });
        assert.equal(response.status, 403, `${route} ${JSON.stringify(headers)}`);
        assert.match((await response.json()).message, /^Cross-origin request refused/);
        assert.equal(f.queries.length, before, "no statement ran (not even the session lookup)");
      },
    ),
    fuzzParameters(),
  );
});

Deno.test("the same session cookie from the same origin passes the check (the control)", async () => {
  const { f } = await setup();
  const admin = await f.login("csrf-control@example.org", true);
  const sameOrigin: Record<string, string>[] = [
    SAME_ORIGIN,
    { origin: "http://localhost" },
    { "sec-fetch-site": "same-origin" },
  ];
  for (const headers of sameOrigin) {
    const response = await f.app.request(
      "http://localhost/api/projects/demo/presentation_objects/" +
        f.ids.poId,
      {
        method: "PATCH",
        headers: { cookie: admin.cookie, "content-type": "application/json", ...headers },
        body: JSON.stringify({ label: "same origin" }),
      },
    );
    assert.equal(response.status, 200, JSON.stringify(headers));
    await response.body?.cancel();
  }
});

Deno.test("unsafe methods without a route are refused the same way (PUT, DELETE on any path)", async () => {
  const { f, admin } = await setup();
  for (const method of ["PUT", "DELETE", "PATCH", "POST"]) {
    const response = await f.app.request("http://localhost/api/projects/demo", {
      method,
      headers: { cookie: admin.cookie, origin: "http://evil.example" },
    });
    assert.equal(response.status, 403, method);
    await response.body?.cancel();
  }
});

/** Every `access-control-*` header of a response. */
function corsHeaders(response: Response): string[] {
  return [...response.headers.keys()].filter((name) => name.startsWith("access-control-"));
}

Deno.test("no route answers CORS: no Access-Control-Allow-* for another origin, on requests or preflights", async () => {
  const { f, admin } = await setup();
  const credentials: Record<string, string>[] = [
    {},
    { cookie: admin.cookie },
    { authorization: `Bearer ${ADMIN_TOKEN}` },
  ];
  for (const route of routesOf(f.app)) {
    const [method, pattern] = route.split(" ");
    const path = await f.concretePath(pattern);
    for (const origin of ["http://evil.example", "null", "http://localhost:3000"]) {
      const preflight = await f.app.request(path, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": method,
          "access-control-request-headers": "authorization, content-type",
        },
      });
      assert.deepEqual(corsHeaders(preflight), [], `OPTIONS ${path} from ${origin}`);
      assert.ok(preflight.status >= 400, `OPTIONS ${path}: ${preflight.status}`);
      await preflight.body?.cancel();
      if (method !== "GET") continue; // unsafe ones are refused above; reads may answer
      for (const credential of credentials) {
        const response = await f.app.request(path, {
          headers: { origin, "sec-fetch-site": "cross-site", ...credential },
        });
        assert.deepEqual(corsHeaders(response), [], `GET ${path} from ${origin}`);
        await response.body?.cancel();
      }
    }
  }
});

Deno.test("csrf/cors teardown", async () => {
  if (!fixture) return;
  await fixture[Symbol.asyncDispose]();
  fixture = undefined;
});
