/**
 * The authorization matrix: every route of the app (read from `app.routes`, so a route
 * added without an entry here fails the first test) against every kind of caller, with the
 * status each must get; and how credentials are checked and kept.
 *
 * Callers. The issue names four: anonymous, a user, an admin, a service token. In this
 * codebase:
 *
 * | column        | credential                                                           |
 * | ------------- | -------------------------------------------------------------------- |
 * | `anonymous`   | nothing                                                              |
 * | `open`        | nothing, on the same instance with `OPEN_ACCESS=true`                |
 * | `user`        | the session cookie of a logged-in non-admin user                     |
 * | `admin`       | the session cookie of an administrator                               |
 * | `service`     | the service token: another instance's signed mirror credential (an  |
 * |               | HS256 JWT over the request body, `MIRROR_SECRET`), the only          |
 * |               | credential that is neither a person nor a role; it is valid on       |
 * |               | `POST /api/cache/invalidate` alone                                    |
 * | `adminToken`  | `ADMIN_TOKEN` as a bearer (scripts, `wb`): an administrator's role   |
 * | `viewerToken` | `VIEWER_TOKEN` as a bearer (scripts): a viewer's role                 |
 *
 * "Each admin route refuses the first three" reads as: anonymous (401), a user (403) and
 * the service token (403; a peer instance is not an administrator) are refused on every
 * admin route; `VIEWER_TOKEN` is refused like a user. `ADMIN_TOKEN` is an administrator's
 * credential, not a service token: it passes where an admin session passes.
 *
 * Route classes (expected status per caller in `EXPECTED`):
 *
 * - `public`: `/healthz`, `GET /api/instance_meta`, `GET /api/auth/me`, login, logout, the
 *   web client's pages and files (the cache page's HTML is public; its data is not).
 * - `read`: every other `GET /api/…`: anonymous 401 unless `OPEN_ACCESS`; a bearer token
 *   that grants nothing (the service token) 403.
 * - `admin`: writes, the flush, the cache page's data.
 * - `invalidate`: `POST /api/cache/invalidate` takes bearer credentials only (the admin
 *   token or a signed mirror request): a session, even an administrator's, is 401.
 * - `metrics`: `GET /metrics` takes `METRICS_TOKEN` only (401 without a bearer, 403 with
 *   another). Without `METRICS_TOKEN` it is open (a Prometheus scrape); the instance here
 *   sets it, as production should.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { createClient } from "redis";
import { roleOf, tokenMatches } from "../auth.ts";
import { signMirrorRequest } from "../events/mod.ts";
import { REDIS_ENABLED } from "../testing/redis_mode.ts";
import {
  ADMIN_TOKEN,
  ASSET,
  createSecurityFixture,
  METRICS_TOKEN,
  MIRROR_SECRET,
  routesOf,
  SAME_ORIGIN,
  type SecurityFixture,
  VIEWER_TOKEN,
} from "./_fixture.ts";
import { fuzzParameters } from "./_fuzz.ts";

type Caller = "anonymous" | "open" | "user" | "admin" | "service" | "adminToken" | "viewerToken";
type Access = "public" | "read" | "admin" | "invalidate" | "metrics";

const CALLERS: Caller[] = [
  "anonymous",
  "open",
  "user",
  "admin",
  "service",
  "adminToken",
  "viewerToken",
];

const EXPECTED: Record<Access, Record<Caller, number>> = {
  public: {
    anonymous: 200,
    open: 200,
    user: 200,
    admin: 200,
    service: 200,
    adminToken: 200,
    viewerToken: 200,
  },
  read: {
    anonymous: 401,
    open: 200,
    user: 200,
    admin: 200,
    service: 403,
    adminToken: 200,
    viewerToken: 200,
  },
  admin: {
    anonymous: 401,
    open: 401,
    user: 403,
    admin: 200,
    service: 403,
    adminToken: 200,
    viewerToken: 403,
  },
  invalidate: {
    anonymous: 401,
    open: 401,
    user: 401,
    admin: 401,
    service: 200,
    adminToken: 200,
    viewerToken: 403,
  },
  metrics: {
    anonymous: 401,
    open: 401,
    user: 401,
    admin: 401,
    service: 403,
    adminToken: 403,
    viewerToken: 403,
  },
};

interface Entry {
  access: Access;
  /** Query string to add (without `?`). */
  query?: (f: SecurityFixture) => string;
  /** The JSON body of a write. */
  body?: (f: SecurityFixture) => Promise<unknown> | unknown;
}

/** Every route of the app. A new route needs an entry (the first test says which). */
const MATRIX: Record<string, Entry> = {
  "GET /metrics": { access: "metrics" },
  "GET /healthz": { access: "public" },
  "GET /api/instance_meta": { access: "public" },
  "POST /caches/flush-all": { access: "admin" },
  "POST /api/auth/login": {
    access: "public",
    body: async (f) => ({ token: await f.loginToken("matrix-login@example.org", false) }),
  },
  "POST /api/auth/logout": { access: "public" },
  "GET /api/auth/me": { access: "public" },
  "GET /api/admin/caches": { access: "admin" },
  "GET /api/projects": { access: "read" },
  "GET /api/projects/:projectId/presentation_objects": { access: "read" },
  "GET /api/projects/:projectId/presentation_objects/:poId": { access: "read" },
  "GET /api/projects/:projectId/presentation_objects/:poId/items": { access: "read" },
  "PATCH /api/projects/:projectId/presentation_objects/:poId": {
    access: "admin",
    body: () => ({ label: `Matrix ${crypto.randomUUID().slice(0, 8)}` }),
  },
  "POST /api/projects/:projectId/modules/:moduleId/run": { access: "admin" },
  "GET /api/projects/:projectId/metrics/:metricId/info": { access: "read" },
  "GET /api/projects/:projectId/metrics/:metricId/replicant_options": {
    access: "read",
    query: () => "replicateBy=indicator_id",
  },
  "GET /api/events": { access: "read" },
  "GET /api/projects/:projectId/events": { access: "read" },
  "POST /api/cache/invalidate": {
    access: "invalidate",
    body: () => ({ entity: "windowed_aggregate", eventId: crypto.randomUUID(), mirror: false }),
  },
  "GET /api/projects/:projectId/items": { access: "read", query: (f) => `poIds=${f.ids.poId}` },
  "GET /api/projects/:projectId/modules/:moduleId/runs/:runId": { access: "read" },
  "GET /api/datasets/hmis/summary": { access: "read" },
  "GET /api/datasets/hfa/summary": { access: "read" },
  "GET /api/structure": { access: "read" },
  "GET /api/instance/overview": { access: "read" },
  "GET /api/labels": { access: "read" },
  "GET /": { access: "public" },
  "GET /login": { access: "public" },
  "GET /overview": { access: "public" },
  "GET /profile": { access: "public" },
  "GET /admin/caches": { access: "public" },
  "GET /projects": { access: "public" },
  "GET /projects/*": { access: "public" },
  // The client's built files, each its own route (the fixture builds one).
  [`GET /${ASSET}`]: { access: "public" },
};

interface Sessions {
  user: string;
  admin: string;
}

let fixture: SecurityFixture | undefined;
let sessions: Sessions | undefined;

async function setup(): Promise<{ f: SecurityFixture; s: Sessions }> {
  fixture ??= await createSecurityFixture();
  sessions ??= {
    user: (await fixture.login("matrix-user@example.org", false)).cookie,
    admin: (await fixture.login("matrix-admin@example.org", true)).cookie,
  };
  return { f: fixture, s: sessions };
}

/** The headers `caller` sends with a request whose body is `body`. */
async function headersOf(
  caller: Caller,
  s: Sessions,
  body: string | undefined,
): Promise<Record<string, string>> {
  switch (caller) {
    case "anonymous":
    case "open":
      return {};
    case "user":
      return { cookie: s.user, ...SAME_ORIGIN };
    case "admin":
      return { cookie: s.admin, ...SAME_ORIGIN };
    case "service":
      return {
        authorization: `Bearer ${await signMirrorRequest(body ?? "", MIRROR_SECRET, {
          issuer: "peer",
        })}`,
      };
    case "adminToken":
      return { authorization: `Bearer ${ADMIN_TOKEN}` };
    case "viewerToken":
      return { authorization: `Bearer ${VIEWER_TOKEN}` };
  }
}

/** Sends `route` as `caller`; returns the status and the body (a stream is cancelled). */
async function call(
  f: SecurityFixture,
  s: Sessions,
  route: string,
  caller: Caller,
): Promise<{ status: number; body: string; headers: Headers }> {
  const [method, pattern] = route.split(" ");
  const entry = MATRIX[route];
  const path = await f.concretePath(pattern);
  const query = entry.query?.(f);
  const json = entry.body ? JSON.stringify(await entry.body(f)) : undefined;
  const headers = await headersOf(caller, s, json);
  if (json !== undefined) headers["content-type"] = "application/json";
  const app = caller === "open" ? f.open : f.app;
  const response = await app.request(query ? `${path}?${query}` : path, {
    method,
    headers,
    body: json,
  });
  const streaming = response.headers.get("content-type")?.startsWith("text/event-stream");
  if (streaming) {
    await response.body?.cancel();
    return { status: response.status, body: "", headers: response.headers };
  }
  return { status: response.status, body: await response.text(), headers: response.headers };
}

Deno.test("the matrix has exactly one entry per route of the app (a new route needs one)", async () => {
  const { f } = await setup();
  const routes = routesOf(f.app);
  const missing = routes.filter((r) => !(r in MATRIX));
  const stale = Object.keys(MATRIX).filter((r) => !routes.includes(r));
  assert.deepEqual(missing, [], `routes without a matrix entry: ${missing.join(", ")}`);
  assert.deepEqual(stale, [], `matrix entries without a route: ${stale.join(", ")}`);
  assert.deepEqual(routesOf(f.open).sort(), routes.sort(), "OPEN_ACCESS adds no route");
});

Deno.test("every route answers each caller as the matrix says (anonymous, open, user, admin, service, admin and viewer tokens)", async () => {
  const { f, s } = await setup();
  // Logout last: it ends the sessions the other rows use.
  const routes = routesOf(f.app).sort((a, b) =>
    Number(a.endsWith("/logout")) - Number(b.endsWith("/logout"))
  );
  const failures: string[] = [];
  const table: string[] = [];
  for (const route of routes) {
    const expected = EXPECTED[MATRIX[route].access];
    const row: string[] = [];
    for (const caller of CALLERS) {
      const { status, body, headers } = await call(f, s, route, caller);
      row.push(String(status));
      if (status !== expected[caller]) {
        failures.push(`${route} as ${caller}: ${status}, expected ${expected[caller]} ${body}`);
      }
      if (status === 401 || status === 403) {
        assert.equal(typeof JSON.parse(body).message, "string", `${route} as ${caller}`);
      }
      if (status === 401 && MATRIX[route].access !== "metrics") {
        assert.match(headers.get("www-authenticate") ?? "", /^Bearer/, `${route} as ${caller}`);
      }
    }
    table.push(`${route.padEnd(72)} ${row.join(" ")}`);
  }
  console.log(`${"route".padEnd(72)} ${CALLERS.join(" ")}\n${table.join("\n")}`);
  assert.deepEqual(failures, []);
});

Deno.test("HEAD is guarded like GET: anonymous HEAD of every read or admin route is 401", async () => {
  const { f } = await setup();
  for (const route of routesOf(f.app)) {
    const [method, pattern] = route.split(" ");
    const access = MATRIX[route].access;
    if (method !== "GET" || access === "public" || access === "metrics") continue;
    const response = await f.app.request(await f.concretePath(pattern), { method: "HEAD" });
    assert.equal(response.status, 401, route);
    await response.body?.cancel();
  }
});

Deno.test("?access_token= is honoured on the event streams only", async () => {
  const { f } = await setup();
  for (const route of routesOf(f.app)) {
    const [method, pattern] = route.split(" ");
    const access = MATRIX[route].access;
    if (method !== "GET" || access === "public") continue;
    const path = await f.concretePath(pattern);
    const query = MATRIX[route].query?.(f);
    for (const token of [VIEWER_TOKEN, ADMIN_TOKEN, METRICS_TOKEN]) {
      const response = await f.app.request(
        `${path}?${query ? `${query}&` : ""}access_token=${token}`,
      );
      // On a stream the token is read: the metrics token grants nothing there (403).
      const stream = path.endsWith("/events");
      const expected = !stream ? 401 : token === METRICS_TOKEN ? 403 : 200;
      assert.equal(response.status, expected, `${route} with ?access_token=`);
      await response.body?.cancel();
    }
  }
});

Deno.test("a bearer token wins over a session cookie: a viewer token with an admin's cookie is not an admin", async () => {
  const { f, s } = await setup();
  const response = await f.app.request("/api/admin/caches", {
    headers: { cookie: s.admin, authorization: `Bearer ${VIEWER_TOKEN}` },
  });
  assert.equal(response.status, 403);
  await response.body?.cancel();
});

/** Near misses of a token: what a guessing or sloppy comparison would let through. */
function nearMisses(token: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.integer({ min: 0, max: token.length - 1 }).map((n) => token.slice(0, n)),
    fc.string({ minLength: 1, maxLength: 3 }).map((tail) => token + tail),
    fc.string({ minLength: 1, maxLength: 3 }).map((head) => head + token),
    fc.integer({ min: 0, max: token.length - 1 }).chain((i) =>
      fc.stringMatching(/^[!-~]$/).filter((c) => c !== token[i]).map((c) =>
        token.slice(0, i) + c + token.slice(i + 1)
      )
    ),
    fc.constant(token.toUpperCase()),
    fc.constant(`${token}\u00e9`),
    fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
    // What an HTTP header can carry (Latin-1, no controls, no spaces: those end the token).
  ).filter((candidate) => candidate !== token && /^[!-~\u00a1-\u00ff]+$/.test(candidate));
}

Deno.test("near-miss tokens (prefixes, suffixes, one character off, case) are refused on every token check path", async () => {
  const { f } = await setup();
  const paths: { token: string; request: (candidate: string) => Response | Promise<Response> }[] = [
    {
      token: ADMIN_TOKEN,
      request: (t) =>
        f.app.request("/caches/flush-all", {
          method: "POST",
          headers: { authorization: `Bearer ${t}` },
        }),
    },
    {
      token: VIEWER_TOKEN,
      request: (t) => f.app.request("/api/projects", { headers: { authorization: `Bearer ${t}` } }),
    },
    {
      token: VIEWER_TOKEN,
      request: (t) => f.app.request(`/api/events?access_token=${encodeURIComponent(t)}`),
    },
    {
      token: METRICS_TOKEN,
      request: (t) => f.app.request("/metrics", { headers: { authorization: `Bearer ${t}` } }),
    },
    {
      token: ADMIN_TOKEN,
      request: (t) =>
        f.app.request("/api/cache/invalidate", {
          method: "POST",
          headers: { authorization: `Bearer ${t}`, "content-type": "application/json" },
          body: JSON.stringify({ entity: "windowed_aggregate" }),
        }),
    },
  ];
  for (const { token, request } of paths) {
    await fc.assert(
      fc.asyncProperty(nearMisses(token), async (candidate) => {
        const response = await request(candidate);
        await response.body?.cancel();
        assert.ok(
          response.status === 401 || response.status === 403,
          `${JSON.stringify(candidate)}: ${response.status}`,
        );
      }),
      fuzzParameters(0.25),
    );
  }
});

Deno.test("tokenMatches() compares equal-length SHA-256 digests: never throws, true exactly for equal strings", () => {
  // node:crypto's timingSafeEqual throws for inputs of different lengths: comparing the raw
  // strings would fail (or need a length check that leaks the length). Any two strings work.
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), fc.string({ unit: "binary" }), (a, b) => {
      assert.equal(tokenMatches(a, b), a === b);
      assert.equal(tokenMatches(a, a), true);
    }),
    fuzzParameters(),
  );
  fc.assert(
    fc.property(fc.string(), fc.option(fc.string(), { nil: undefined }), (candidate, token) => {
      const viewerToken = token === undefined ? undefined : `${token}v`;
      const role = roleOf(candidate, { adminToken: token, viewerToken });
      const expected = token === undefined
        ? undefined
        : candidate === token
        ? "admin"
        : candidate === `${token}v`
        ? "viewer"
        : undefined;
      assert.equal(role, expected);
    }),
    fuzzParameters(),
  );
  assert.equal(tokenMatches("", undefined), false, "an unset token matches nothing");
});

Deno.test("every token check in server/ goes through tokenMatches (no other comparison of a token or secret)", async () => {
  // A guard over the sources, not a proof: it fails when someone compares a credential with
  // ===, !==, ==, != or localeCompare, or calls timingSafeEqual on raw strings, anywhere but
  // tokenMatches. Comparisons with undefined, null or a typeof string are fine. Sessions and
  // login links are looked up by their SHA-256 in Postgres (an index lookup of a digest of a
  // 256-bit random token: its timing tells nothing useful); mirror credentials are verified
  // by jose (WebCrypto HMAC verify, constant time).
  const credential = /\b\w*(?:token|secret|password)\w*\b/i;
  const benign = /^(?:undefined|null|"(?:string|undefined|object)")$/;
  const offenders: string[] = [];
  const root = new URL("../", import.meta.url);
  for await (const path of walk(root)) {
    if (path.endsWith("_test.ts") || path.includes("/security/") || path.includes("/testing/")) {
      continue;
    }
    const lines = (await Deno.readTextFile(path)).split("\n");
    lines.forEach((line, i) => {
      const where = `${path.slice(root.pathname.length)}:${i + 1}: ${line.trim()}`;
      if (/timingSafeEqual\(/.test(line) && !/timingSafeEqual\(digest\(/.test(line)) {
        if (!/^import|^\s*import/.test(line)) offenders.push(where);
      }
      for (const match of line.matchAll(/([\w.$[\]"']+)\s*(===|!==|==|!=)\s*([\w.$[\]"']+)/g)) {
        const [, left, , right] = match;
        if (!credential.test(left) && !credential.test(right)) continue;
        if (benign.test(left) || benign.test(right)) continue;
        if (/\.length$/.test(left) || /\.length$/.test(right)) continue;
        offenders.push(where);
      }
      if (credential.test(line) && /localeCompare\(/.test(line)) offenders.push(where);
    });
  }
  assert.deepEqual(offenders, []);
});

async function* walk(dir: URL): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* walk(url);
    else if (entry.name.endsWith(".ts")) yield url.pathname;
  }
}

Deno.test("tokens are stored hashed: users, login links and sessions hold SHA-256 digests, never a raw token", async () => {
  const { f } = await setup();
  const issued: string[] = [];
  for (const [email, isAdmin] of [["hash-a@example.org", false], ["hash-b@example.org", true]]) {
    const logged = await f.login(email as string, isAdmin as boolean);
    issued.push(logged.sessionToken, logged.loginToken);
    issued.push(await f.loginToken(email as string, isAdmin as boolean)); // issued, not used
  }
  const dump = JSON.stringify({
    users: await f.database.db.query("SELECT * FROM users"),
    loginTokens: await f.database.db.query("SELECT * FROM login_tokens"),
    sessions: await f.database.db.query("SELECT * FROM sessions"),
  });
  for (const token of issued) {
    assert.ok(!dump.includes(token), "a raw token is stored");
  }
  const digests = new Set([
    ...(await f.database.db.query<{ h: string }>("SELECT token_hash AS h FROM login_tokens")),
    ...(await f.database.db.query<{ h: string }>("SELECT session_hash AS h FROM sessions")),
  ].map((r) => r.h));
  for (const token of issued) {
    const digest = createHash("sha256").update(token).digest("hex");
    assert.ok(digests.has(digest), "each issued token is stored as its SHA-256 digest");
  }
  // Every stored digest is 64 hex characters (nothing else sneaks into those columns).
  for (const digest of digests) assert.match(digest, /^[0-9a-f]{64}$/);
});

Deno.test({
  name: "Redis holds no credential: no token, session, login link or secret in any key or value",
  ignore: !REDIS_ENABLED,
}, async () => {
  const { f } = await setup();
  const logged = await f.login("redis-scan@example.org", true);
  // Exercise what writes to Redis: cached reads, a signed mirror request, the flush log.
  for (const path of ["/api/projects", "/api/structure", "/api/datasets/hfa/summary"]) {
    await (await f.app.request(path, { headers: { cookie: logged.cookie } })).body?.cancel();
  }
  const body = JSON.stringify({
    entity: "windowed_aggregate",
    eventId: "scan-0001",
    mirror: false,
  });
  const jwt = await signMirrorRequest(body, MIRROR_SECRET, { issuer: "peer" });
  const mirrored = await f.app.request("/api/cache/invalidate", {
    method: "POST",
    headers: { authorization: `Bearer ${jwt}`, "content-type": "application/json" },
    body,
  });
  assert.equal(mirrored.status, 200);
  await mirrored.body?.cancel();
  const client = createClient({ url: f.redis.url });
  await client.connect();
  try {
    let text = "";
    for await (const keys of client.scanIterator({ COUNT: 500 })) {
      for (const key of keys) {
        const type = await client.type(key);
        const value = type === "string"
          ? await client.get(key)
          : type === "hash"
          ? JSON.stringify(await client.hGetAll(key))
          : type === "set"
          ? JSON.stringify(await client.sMembers(key))
          : type === "list"
          ? JSON.stringify(await client.lRange(key, 0, -1))
          : type === "zset"
          ? JSON.stringify(await client.zRange(key, 0, -1))
          : "";
        text += `${key}\n${value}\n`;
      }
    }
    assert.ok(text.includes("wb:mirror:jti"), "the scan saw the instance's keys");
    const secrets = {
      ADMIN_TOKEN,
      VIEWER_TOKEN,
      METRICS_TOKEN,
      MIRROR_SECRET,
      session: logged.sessionToken,
      loginLink: logged.loginToken,
      jwt,
      jwtSignature: jwt.split(".")[2],
    };
    for (const [name, secret] of Object.entries(secrets)) {
      assert.ok(!text.includes(secret), `${name} is in Redis`);
    }
  } finally {
    client.destroy();
  }
});

Deno.test("authz matrix teardown", async () => {
  if (!fixture) return;
  await fixture[Symbol.asyncDispose]();
  fixture = undefined;
});
