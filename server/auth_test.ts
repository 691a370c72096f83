/**
 * Access to the app against real Postgres and (in the Redis run) a real redis-server:
 * login links, session cookies, roles, open access, cross-origin refusals, the flush and
 * the administrators' cache page.
 */
import assert from "node:assert/strict";
import type { Hono } from "hono";
import { RedisStore } from "../lib/mod.ts";
import { startRedis, type TestRedis } from "../lib/testing/redis_server.ts";
import { createApp } from "./app.ts";
import { sessionCookieName } from "./auth.ts";
import { PLAIN_HTTP_WARNING } from "./routes/auth.ts";
import { createServerCaches } from "./caches.ts";
import { readConfig } from "./config.ts";
import { createTestDatabase, loadSmallFixture, type TestDatabase } from "./testing/pg.ts";
import { connectTestStore, REDIS_ENABLED } from "./testing/redis_mode.ts";
import { issueLoginToken, upsertUser } from "./users.ts";

const ADMIN = "auth-admin-token-6b0d2f8e4a1c9357";
const VIEWER = "auth-viewer-token-3e7a9c1f5d0b2864";
const INSTANCE = "auth-test";
const quiet = () => {};
/** What a browser adds to a same-origin `fetch` POST. */
const SAME_ORIGIN = { "sec-fetch-site": "same-origin", origin: "http://localhost" };
const ITEMS = "/api/projects/demo/presentation_objects/po_anc_by_lga/items";

interface Fixture {
  store: RedisStore;
  database: TestDatabase;
  redis: TestRedis;
  app: Hono;
  open: Hono;
}

let fixture: Fixture | undefined;

async function setup(): Promise<Fixture> {
  if (fixture) return fixture;
  const database = await createTestDatabase();
  await loadSmallFixture(database.db);
  const redis = await startRedis();
  const store = await connectTestStore(redis.url);
  const deps = {
    db: database.db,
    caches: createServerCaches({ store, log: quiet }),
    adminToken: ADMIN,
    viewerToken: VIEWER,
    instance: INSTANCE,
    log: quiet,
  };
  fixture = {
    store,
    database,
    redis,
    app: await createApp(deps),
    open: await createApp({ ...deps, openAccess: true }),
  };
  return fixture;
}

/** Creates (or updates) a user, follows a fresh login link, and returns the cookie header. */
async function login(f: Fixture, email: string, isAdmin: boolean): Promise<string> {
  const { user } = await upsertUser(f.database.db, email, { isAdmin });
  const { token } = await issueLoginToken(f.database.db, user.userId);
  const response = await f.app.request("/api/auth/login", {
    method: "POST",
    headers: { ...SAME_ORIGIN, "content-type": "application/json" },
    body: JSON.stringify({ token }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  // Over plain HTTP (app.request is http://localhost) the answer warns about the transport.
  assert.deepEqual(await response.json(), { email, isAdmin, warning: PLAIN_HTTP_WARNING });
  const cookie = response.headers.get("set-cookie")!;
  return cookie.split(";")[0];
}

async function cacheKeys(f: Fixture): Promise<string[]> {
  return (await f.redis.cli("--scan", "--pattern", "cache:*")).split("\n").filter(Boolean)
    .sort(); // SCAN order is not stable
}

Deno.test("login link: works once, sets an HttpOnly SameSite=Strict session cookie; used, unknown or expired links are 401", async () => {
  const f = await setup();
  const { user } = await upsertUser(f.database.db, "Once@Example.org", { isAdmin: false });
  assert.equal(user.email, "once@example.org");
  const { token } = await issueLoginToken(f.database.db, user.userId);
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    f.app.request("/api/auth/login", {
      method: "POST",
      headers: { ...SAME_ORIGIN, "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  const first = await post({ token });
  assert.equal(first.status, 200);
  const cookie = first.headers.get("set-cookie")!;
  assert.match(cookie, new RegExp(`^${sessionCookieName(INSTANCE)}=[A-Za-z0-9_-]{43};`));
  assert.match(cookie, /; HttpOnly/);
  assert.match(cookie, /; SameSite=Strict/);
  assert.match(cookie, /; Path=\//);
  assert.doesNotMatch(cookie, /; Secure/, "plain HTTP: no Secure (the browser would drop it)");
  await first.body?.cancel();
  const again = await post({ token });
  assert.equal(again.status, 401);
  assert.match((await again.json()).message, /already used or expired/);
  assert.equal((await post({ token: "x".repeat(43) })).status, 401);
  assert.equal((await post({})).status, 400);

  const expired = await issueLoginToken(f.database.db, user.userId, -1);
  assert.equal((await post({ token: expired.token })).status, 401);

  // Behind a TLS-terminating proxy the cookie is Secure.
  const secure = await post(
    { token: (await issueLoginToken(f.database.db, user.userId)).token },
    { "x-forwarded-proto": "https" },
  );
  assert.match(secure.headers.get("set-cookie")!, /; Secure/);
  await secure.body?.cancel();
});

Deno.test("reads need a viewer: anonymous 401; a viewer's session, a viewer token, open access pass; logout ends the session", async () => {
  const f = await setup();
  const anonymous = await f.app.request(ITEMS);
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get("www-authenticate")!, /^Bearer/);
  await anonymous.body?.cancel();
  for (const path of ["/api/instance_meta", "/api/auth/me", "/healthz"]) {
    const response = await f.app.request(path);
    assert.equal(response.status, 200, `${path} is public`);
    await response.body?.cancel();
  }
  const cookie = await login(f, "reader@example.org", false);
  const asViewer = await f.app.request(ITEMS, { headers: { cookie } });
  assert.equal(asViewer.status, 200);
  await asViewer.body?.cancel();
  const byToken = await f.app.request(ITEMS, { headers: { authorization: `Bearer ${VIEWER}` } });
  assert.equal(byToken.status, 200);
  await byToken.body?.cancel();
  const open = await f.open.request(ITEMS);
  assert.equal(open.status, 200);
  await open.body?.cancel();

  const me = await (await f.app.request("/api/auth/me", { headers: { cookie } })).json();
  assert.deepEqual(me, {
    role: "viewer",
    via: "session",
    email: "reader@example.org",
    isAdmin: false,
    openAccess: false,
    secureTransport: false,
    instance: INSTANCE,
  });
  assert.deepEqual(
    await (await f.open.request("/api/auth/me")).json(),
    {
      role: "viewer",
      via: "open",
      isAdmin: false,
      openAccess: true,
      secureTransport: false,
      instance: INSTANCE,
    },
  );

  const logout = await f.app.request("/api/auth/logout", {
    method: "POST",
    headers: { cookie, ...SAME_ORIGIN },
  });
  assert.equal(logout.status, 200);
  assert.match(logout.headers.get("set-cookie")!, /Max-Age=0/);
  await logout.body?.cancel();
  const after = await f.app.request(ITEMS, { headers: { cookie } });
  assert.equal(after.status, 401, "the session is gone from the database");
  await after.body?.cancel();
});

Deno.test("POST /caches/flush-all: 401 without a session or token (open access too), 403 for a viewer's session or token; Redis untouched", async () => {
  const f = await setup();
  await (await f.app.request(ITEMS, { headers: { authorization: `Bearer ${ADMIN}` } })).body
    ?.cancel();
  const before = await cacheKeys(f);
  assert.equal(before.length > 0, REDIS_ENABLED);
  const viewerCookie = await login(f, "viewer@example.org", false);
  const cases: [Hono, Record<string, string>, number][] = [
    [f.app, {}, 401],
    [f.open, {}, 401],
    [f.app, { cookie: viewerCookie }, 403],
    [f.app, { authorization: `Bearer ${VIEWER}` }, 403],
    [f.app, { authorization: "Bearer wrong" }, 403],
  ];
  for (const [app, headers, status] of cases) {
    const response = await app.request("/caches/flush-all", {
      method: "POST",
      headers: { ...SAME_ORIGIN, ...headers },
    });
    assert.equal(response.status, status, JSON.stringify(headers));
    const body = await response.json();
    if (status === 403 && headers.cookie) {
      assert.match(body.message, /viewer@example.org is not an administrator/);
    }
  }
  assert.deepEqual(await cacheKeys(f), before);
});

Deno.test("an administrator's session flushes (recorded with the e-mail); the admin flag applies to live sessions at once", async () => {
  const f = await setup();
  const cookie = await login(f, "boss@example.org", true);
  await (await f.app.request(ITEMS, { headers: { cookie } })).body?.cancel();
  const flush = await f.app.request("/caches/flush-all", {
    method: "POST",
    headers: { cookie, ...SAME_ORIGIN },
  });
  assert.equal(flush.status, 200);
  assert.deepEqual(await flush.json(), { success: true });
  assert.deepEqual(await cacheKeys(f), []);
  const page = await (await f.app.request("/api/admin/caches", { headers: { cookie } })).json();
  assert.equal(page.lastFlush.by, "boss@example.org");
  assert.equal(page.lastFlush.reason, "flush-all");

  await upsertUser(f.database.db, "boss@example.org", { isAdmin: false });
  const demoted = await f.app.request("/caches/flush-all", {
    method: "POST",
    headers: { cookie, ...SAME_ORIGIN },
  });
  assert.equal(demoted.status, 403);
  await demoted.body?.cancel();
});

Deno.test("cross-origin writes are refused (403) before any credential is used: Sec-Fetch-Site, a foreign Origin, a cookie without either", async () => {
  const f = await setup();
  await (await f.app.request(ITEMS, { headers: { authorization: `Bearer ${ADMIN}` } })).body
    ?.cancel();
  const before = await cacheKeys(f);
  const cookie = await login(f, "target@example.org", true);
  const refused: Record<string, string>[] = [
    { cookie, "sec-fetch-site": "cross-site" },
    // Another port of the same host is the same site (the cookie goes along) but not the same origin.
    { cookie, "sec-fetch-site": "same-site" },
    { cookie, origin: "http://evil.example" },
    { cookie, origin: "null" },
    { cookie },
    // A form post carries the cookie and a content type that needs no CORS preflight.
    { cookie, origin: "http://127.0.0.1:9", "content-type": "application/x-www-form-urlencoded" },
    // Not even the admin token makes a cross-origin browser write acceptable.
    { authorization: `Bearer ${ADMIN}`, "sec-fetch-site": "cross-site" },
  ];
  for (const headers of refused) {
    const response = await f.app.request("http://localhost/caches/flush-all", {
      method: "POST",
      headers,
    });
    assert.equal(response.status, 403, JSON.stringify(headers));
    assert.match((await response.json()).message, /Cross-origin request refused/);
  }
  assert.deepEqual(await cacheKeys(f), before);
  // The same origin (by Origin alone: no Sec-Fetch-Site over plain HTTP to a LAN address).
  const sameOrigin = await f.app.request("http://localhost/caches/flush-all", {
    method: "POST",
    headers: { cookie, origin: "http://localhost" },
  });
  assert.equal(sameOrigin.status, 200);
  await sameOrigin.body?.cancel();
  // A script: bearer token, no cookie, no Origin.
  const script = await f.app.request("/caches/flush-all", {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN}` },
  });
  assert.equal(script.status, 200);
  await script.body?.cancel();
  // Login is a write too (login CSRF).
  const crossLogin = await f.app.request("/api/auth/login", {
    method: "POST",
    headers: { "sec-fetch-site": "cross-site", "content-type": "application/json" },
    body: JSON.stringify({ token: "whatever" }),
  });
  assert.equal(crossLogin.status, 403);
  await crossLogin.body?.cancel();
});

Deno.test("GET /api/admin/caches: administrators only; keys, memory and hits per prefix", async () => {
  const f = await setup();
  const admin = { authorization: `Bearer ${ADMIN}` };
  await (await f.app.request("/caches/flush-all", { method: "POST", headers: admin })).body
    ?.cancel();
  for (let i = 0; i < 2; i++) {
    await (await f.app.request(ITEMS, { headers: admin })).body?.cancel();
  }
  const viewer = await f.app.request("/api/admin/caches", {
    headers: { authorization: `Bearer ${VIEWER}` },
  });
  assert.equal(viewer.status, 403);
  await viewer.body?.cancel();
  const response = await f.app.request("/api/admin/caches", { headers: admin });
  assert.equal(response.status, 200);
  const stats = await response.json();
  const items = stats.prefixes.find((p: { prefix: string }) => p.prefix === "po_items");
  assert.ok(items, "every server cache is listed");
  assert.deepEqual(
    stats.prefixes.map((p: { prefix: string }) => p.prefix).filter((p: string) =>
      ["po_detail", "po_items", "ds_hmis"].includes(p)
    ),
    ["ds_hmis", "po_detail", "po_items"],
  );
  assert.equal(stats.lastFlush.by, "admin token");
  if (REDIS_ENABLED) {
    assert.equal(stats.redis, "up");
    assert.equal(items.keys, 1);
    assert.ok(items.memoryBytes > 0 && items.memorySampled === 1);
    assert.ok(items.hits >= 1 && items.misses >= 1);
    assert.equal(stats.truncated, false);
    assert.deepEqual(stats.pendingClears, {}); // every clear reached Redis
  } else {
    assert.equal(stats.redis, "disabled");
    assert.equal(items.keys, 0);
    assert.equal(items.memoryBytes, null);
    assert.ok(items.bypass >= 2);
  }
});

Deno.test("readConfig(): OPEN_ACCESS=true is refused on a production instance", () => {
  assert.equal(readConfig({ OPEN_ACCESS: "true" }).openAccess, true);
  assert.equal(readConfig({}).openAccess, false);
  assert.equal(readConfig({ WB_PRODUCTION: "true" }).production, true);
  assert.throws(
    () => readConfig({ OPEN_ACCESS: "true", WB_PRODUCTION: "true" }),
    (error: Error) =>
      error instanceof RangeError &&
      /OPEN_ACCESS=true is refused .*WB_PRODUCTION=true/.test(error.message),
  );
});

Deno.test("server/main.ts refuses to start with OPEN_ACCESS=true and WB_PRODUCTION=true", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./main.ts", import.meta.url).pathname],
    env: { OPEN_ACCESS: "true", WB_PRODUCTION: "true", PORT: "0", DENO_NO_UPDATE_CHECK: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.notEqual(out.code, 0);
  assert.match(new TextDecoder().decode(out.stderr), /OPEN_ACCESS=true is refused/);
});

Deno.test("auth tests teardown", async () => {
  if (!fixture) return;
  await fixture.store.close();
  await fixture.redis.stop();
  await fixture.database[Symbol.asyncDispose]();
});
