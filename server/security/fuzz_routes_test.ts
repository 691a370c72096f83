/**
 * Property-based fuzzing (fast-check) of route and query parameters and request bodies:
 * ids with separators, glob characters, path traversal, %-encodings, NUL and unpaired
 * surrogates, SQL-ish words; `poIds` lists, `level`, `replicateBy`, `indicatorId`,
 * `lastEventId`; invalidation and login bodies.
 *
 * - every answer is 200 or a 4xx with a JSON `message`, never a 5xx;
 * - no input string ever appears in the text of a statement the server ran (every fuzzed
 *   string carries a marker; see `_fuzz.ts`);
 * - an anonymous request, whatever its path (case, slashes, dot segments, encodings), never
 *   reaches the database and never gets anything but a public answer.
 *
 * The routes are read from `app.routes`: a new route with parameters is fuzzed too.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { ADMIN_TOKEN, createSecurityFixture, routesOf, type SecurityFixture } from "./_fixture.ts";
import { fuzzParameters, fuzzText, MARKER, nastyString, urlEncoding } from "./_fuzz.ts";

let fixture: SecurityFixture | undefined;

async function setup(): Promise<SecurityFixture> {
  fixture ??= await createSecurityFixture();
  return fixture;
}

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

/** Sends a request and reads the answer (an event stream is cancelled). */
async function send(f: SecurityFixture, path: string, init: RequestInit = {}): Promise<Answer> {
  let response: Response;
  try {
    response = await f.app.request(path, init);
  } catch (error) {
    // The URL parser refuses some paths before any server would see them.
    if (error instanceof TypeError && /URL|Request/i.test(error.message)) {
      return { status: 0, contentType: "", body: "" };
    }
    throw error;
  }
  const contentType = response.headers.get("content-type") ?? "";
  if (contentType.startsWith("text/event-stream")) {
    await response.body?.cancel();
    return { status: response.status, contentType, body: "" };
  }
  return { status: response.status, contentType, body: await response.text() };
}

/** 200 or a 4xx with a JSON message; never a 5xx. */
function assertHandled(answer: Answer, what: string): void {
  assert.ok(answer.status < 500, `${what}: ${answer.status} ${answer.body.slice(0, 300)}`);
  if (answer.status >= 400) {
    assert.match(answer.contentType, /^application\/json/, what);
    assert.equal(typeof JSON.parse(answer.body).message, "string", what);
  }
}

/** Asserts that no statement run since `from` carries an input string in its text. */
function assertNoInputInSql(f: SecurityFixture, from: number): void {
  for (const { text } of f.queries.slice(from)) {
    assert.ok(!text.includes(MARKER), `input in SQL text:\n${text}`);
  }
}

Deno.test("route parameters: fuzzed ids on every route with parameters are 200 or a 4xx with a message, never in SQL text", async () => {
  const f = await setup();
  const routes = routesOf(f.app).filter((r) => r.includes("/:"));
  assert.ok(routes.length >= 9, routes.join(", "));
  const fixtureValue = (name: string) =>
    (f.ids as Record<string, string>)[name] ?? (name === "runId" ? "20250101T000000000000Z" : "x");
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...routes),
      fc.array(fc.option(fc.tuple(fuzzText, urlEncoding), { freq: 3 }), {
        minLength: 4,
        maxLength: 4,
      }),
      async (route, choices) => {
        const [method, pattern] = route.split(" ");
        let i = 0;
        const path = pattern.replace(/:(\w+)/g, (_, name: string) => {
          const choice = choices[i++];
          return choice === null ? fixtureValue(name) : choice[1](choice[0]);
        });
        const from = f.queries.length;
        const answer = await send(f, path, {
          method,
          headers: { ...admin, "content-type": "application/json" },
          body: method === "PATCH" ? JSON.stringify({ label: "fuzz" }) : undefined,
        });
        if (answer.status === 0) return;
        assertHandled(answer, `${method} ${path}`);
        assertNoInputInSql(f, from);
      },
    ),
    fuzzParameters(),
  );
});

/** A comma-separated `poIds` list: real ids, fuzzed ones, empty entries, too many. */
const poIdsList = (realId: string) =>
  fc.array(
    fc.oneof(fc.constant(realId), fuzzText, fc.constant(""), fc.constant(" ")),
    { maxLength: 120 },
  ).map((ids) => ids.join(","));

Deno.test("query parameters: fuzzed poIds, level, indicatorId, replicateBy and lastEventId are 200 or a 4xx with a message, never in SQL text", async () => {
  const f = await setup();
  const { projectId, metricId, poId } = f.ids;
  const requests = fc.oneof(
    fc.tuple(poIdsList(poId), urlEncoding).map(([ids, enc]) =>
      `/api/projects/${projectId}/items?poIds=${enc(ids)}`
    ),
    fc.tuple(
      fc.option(fuzzText),
      fc.option(fc.oneof(fuzzText, fc.constantFrom("2", "3", "4", "2.0", "1e0", "", "-0", "0x2"))),
      urlEncoding,
    )
      .map(([indicator, level, enc]) =>
        `/api/datasets/hmis/summary?${indicator === null ? "" : `indicatorId=${enc(indicator)}&`}${
          level === null ? "" : `level=${enc(level)}`
        }`
      ),
    fc.tuple(
      fc.oneof(fuzzText, fc.constantFrom("indicator_id", "period_id", "INDICATOR_ID")),
      urlEncoding,
    )
      .map(([by, enc]) =>
        `/api/projects/${projectId}/metrics/${metricId}/replicant_options?replicateBy=${enc(by)}`
      ),
    fc.tuple(
      fc.oneof(nastyString, fc.constantFrom("0", "1", "999999999999999", "-1", "1e3")),
      urlEncoding,
    )
      .map(([id, enc]) => `/api/events?lastEventId=${enc(id)}`),
  );
  await fc.assert(
    fc.asyncProperty(requests, async (path) => {
      const from = f.queries.length;
      const answer = await send(f, path, { headers: admin });
      if (answer.status === 0) return;
      assertHandled(answer, path);
      assertNoInputInSql(f, from);
    }),
    fuzzParameters(),
  );
});

Deno.test("GET /api/datasets/hmis/summary with a NUL in indicatorId is a 400 naming it (was a 500)", async () => {
  const f = await setup();
  for (const value of ["%00", "anc1%00", "%00%00"]) {
    const answer = await send(f, `/api/datasets/hmis/summary?indicatorId=${value}`, {
      headers: admin,
    });
    assert.equal(answer.status, 400, `${value}: ${answer.body}`);
    assert.equal(JSON.parse(answer.body).field, "indicatorId");
  }
  // Invalid UTF-8 is not decoded (the text stays as sent, storable): answered, not a 500.
  const invalid = await send(f, "/api/datasets/hmis/summary?indicatorId=%ED%A0%80", {
    headers: admin,
  });
  assertHandled(invalid, "%ED%A0%80");
});

Deno.test("error answers are JSON by their content type too: 400, 401, 403 and 404 say application/json (HTTPException answers said text/plain)", async () => {
  const f = await setup();
  const cases: [string, RequestInit, number][] = [
    ["/api/projects/%00/presentation_objects", { headers: admin }, 400],
    ["/api/projects", {}, 401],
    ["/api/projects", { headers: { authorization: "Bearer nope" } }, 403],
    ["/api/projects/demo/presentation_objects/nope", { headers: admin }, 404],
    ["/nope", {}, 404],
  ];
  for (const [path, init, status] of cases) {
    const answer = await send(f, path, init);
    assert.equal(answer.status, status, path);
    assert.match(answer.contentType, /^application\/json/, `${path}: ${answer.contentType}`);
    assert.equal(typeof JSON.parse(answer.body).message, "string");
  }
});

const invalidateBody = fc.oneof(
  fc.jsonValue(),
  fc.record({
    entity: fc.oneof(fuzzText, fc.constantFrom("module", "modules", "structure", "dataset")),
    id: fc.oneof(fuzzText, fc.constant("m001"), fc.jsonValue()),
    projectId: fc.oneof(fuzzText, fc.constant("demo"), fc.jsonValue()),
    eventId: fc.oneof(fuzzText, fc.uuid(), fc.jsonValue()),
    mirror: fc.jsonValue(),
  }, { requiredKeys: ["entity"] }),
);

Deno.test("bodies: fuzzed invalidations (as an administrator) and logins are 200 or a 4xx with a message, never in SQL text", async () => {
  const f = await setup();
  const bodies = fc.oneof(
    invalidateBody.map((body) => ({ path: "/api/cache/invalidate", body: JSON.stringify(body) })),
    fc.oneof(
      fc.record({ token: fc.oneof(fuzzText, fc.jsonValue()) }),
      fc.jsonValue(),
    ).map((body) => ({ path: "/api/auth/login", body: JSON.stringify(body) })),
    fc.tuple(fc.constantFrom("/api/cache/invalidate", "/api/auth/login"), nastyString).map((
      [path, body],
    ) => ({ path, body })),
  );
  await fc.assert(
    fc.asyncProperty(bodies, async ({ path, body }) => {
      const from = f.queries.length;
      const answer = await send(f, path, {
        method: "POST",
        headers: { ...admin, "content-type": "application/json" },
        body,
      });
      assertHandled(answer, `${path} ${body.slice(0, 100)}`);
      assertNoInputInSql(f, from);
    }),
    fuzzParameters(),
  );
});

/** Ways to spell a path that a naive prefix check could miss. */
const pathVariant: fc.Arbitrary<(path: string) => string> = fc.constantFrom(
  (p: string) => p,
  (p: string) => p.toUpperCase(),
  (p: string) => p.replace("/api/", "/API/"),
  (p: string) => p.replace("/api/", "/Api/"),
  (p: string) => p.replace("/api/", "//api/"),
  (p: string) => `/${p}`,
  (p: string) => p.replace("/api/", "/api//"),
  (p: string) => `${p}/`,
  (p: string) => p.replace("/api/", "/x/../api/"),
  (p: string) => p.replace("/api/", "/./api/"),
  (p: string) => p.replace("/api/", "/%61pi/"),
  (p: string) => p.replace("/api/", "/api%2F"),
  (p: string) => p.replace("/api/", "/api%2f"),
  (p: string) => p.replace("/api/", "/api\\"),
  (p: string) => p.replace(/\/([^/]+)$/, "/%2e%2e/$1"),
  (p: string) => `${p};jsessionid=1`,
  (p: string) => `${p}%00`,
  (p: string) => `${p}?access_token=${MARKER}`,
  (p: string) => `${p}#x`,
  (p: string) => p.replace("/api/", "/api/%20/../"),
);

/** What anonymous callers may be answered with 200. */
function isPublicAnswer(answer: Answer): boolean {
  if (/^text\/html|^text\/javascript/.test(answer.contentType)) return true; // the web client
  if (!answer.contentType.startsWith("application/json")) return false;
  const body = JSON.parse(answer.body);
  return "ok" in body || "serverVersion" in body || ("role" in body && body.role === null);
}

Deno.test("anonymous requests, whatever the spelling of the path, never reach the database or get a protected answer", async () => {
  const f = await setup();
  const paths: string[] = [];
  for (const route of routesOf(f.app)) {
    const [, pattern] = route.split(" ");
    paths.push(await f.concretePath(pattern));
  }
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...paths),
      pathVariant,
      fc.constantFrom("GET", "HEAD"),
      async (path, variant, method) => {
        const from = f.queries.length;
        const spelled = variant(path);
        const answer = await send(f, spelled, { method });
        if (answer.status === 0) return;
        assert.ok(answer.status < 500, `${method} ${spelled}: ${answer.status}`);
        assert.equal(f.queries.length, from, `${method} ${spelled} reached the database`);
        if (answer.status === 200 && method === "GET") {
          assert.ok(isPublicAnswer(answer), `${spelled}: ${answer.body.slice(0, 200)}`);
        }
      },
    ),
    fuzzParameters(),
  );
});

Deno.test("routes fuzz teardown", async () => {
  if (!fixture) return;
  await fixture[Symbol.asyncDispose]();
  fixture = undefined;
});
