/**
 * The app against real Postgres (a throwaway database with the small fixture) and a real
 * redis-server started for this file: caching headers, versions, single flight, flush-all
 * authorization, bad input, and Redis outages.
 */
import assert from "node:assert/strict";
import type { Hono } from "hono";
import { RedisStore } from "../lib/mod.ts";
import { startRedis, type TestRedis } from "../lib/testing/redis_server.ts";
import { createApp } from "./app.ts";
import { createServerCaches } from "./caches.ts";
import { CACHE_FORMAT_VERSION } from "./version.ts";
import { createTestDatabase, loadSmallFixture, type TestDatabase } from "./testing/pg.ts";
import { connectTestStore, REDIS_ENABLED, xCache } from "./testing/redis_mode.ts";

const ADMIN = "test-admin-token-5d1c8e0f7a2b4936";
const admin = { authorization: `Bearer ${ADMIN}` };
const quiet = () => {};

interface Fixture {
  store: RedisStore;
  app: Hono;
  redis: TestRedis;
  database: TestDatabase;
  projectId: string;
  poIds: string[];
}

let fixture: Fixture | undefined;

async function setup(): Promise<Fixture> {
  if (fixture) return fixture;
  const database = await createTestDatabase();
  await loadSmallFixture(database.db);
  const redis = await startRedis({ appendonly: true });
  const store = await connectTestStore(redis.url, {
    commandTimeoutMs: 300,
    maxReconnectDelayMs: 100,
  });
  const app = await createApp({
    openAccess: true, // anonymous reads: these tests are about caching, not access
    db: database.db,
    caches: createServerCaches({ store, log: quiet }),
    adminToken: ADMIN,
    instance: "test",
    log: quiet,
  });
  const projects = await (await app.request("/api/projects")).json();
  const projectId = projects.items[0].projectId;
  const pos = await (await app.request(`/api/projects/${projectId}/presentation_objects`)).json();
  fixture = {
    store,
    app,
    redis,
    database,
    projectId,
    poIds: pos.items.map((p: { poId: string }) => p.poId),
  };
  return fixture;
}

const itemsPath = (f: Fixture, poId: string) =>
  `/api/projects/${f.projectId}/presentation_objects/${poId}/items`;

Deno.test("GET /healthz answers without the database", async () => {
  const f = await setup();
  const response = await f.app.request("/healthz");
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.ok, true);
  assert.equal(body.redis, REDIS_ENABLED ? "up" : "disabled");
});

Deno.test("items are a MISS from Postgres, then a HIT from Redis with the same body", async () => {
  const f = await setup();
  const cold = await f.app.request(itemsPath(f, f.poIds[0]));
  assert.equal(cold.status, 200);
  assert.equal(cold.headers.get("x-cache"), xCache("MISS"));
  assert.match(
    cold.headers.get("server-timing")!,
    /cache;dur=[\d.]+;desc="(MISS|BYPASS)", db;dur=[\d.]+/,
  );
  const coldBody = await cold.json();
  assert.equal(coldBody.status, "ok");
  assert.ok(coldBody.items.length > 0);
  const warm = await f.app.request(itemsPath(f, f.poIds[0]));
  assert.equal(warm.headers.get("x-cache"), xCache("HIT"));
  assert.deepEqual(await warm.json(), coldBody);
  const keys = await f.redis.cli("--scan", "--pattern", "cache:po_items:*");
  assert.equal(keys.split("\n").filter(Boolean).length >= 1, REDIS_ENABLED);
});

Deno.test("30 concurrent cold requests run the query once: one MISS, the rest HIT", async () => {
  const f = await setup();
  const responses = await Promise.all(
    Array.from({ length: 30 }, () => f.app.request(itemsPath(f, f.poIds[1]))),
  );
  const labels = responses.map((r) => r.headers.get("x-cache"));
  if (REDIS_ENABLED) {
    assert.equal(labels.filter((l) => l === "MISS").length, 1, labels.join(","));
    assert.equal(labels.filter((l) => l === "HIT").length, 29);
  } else {
    // No cache: concurrent callers still share one computation, but one arriving after it
    // finished has nothing stored to read, and computes again.
    assert.ok(labels.every((l) => l === "BYPASS" || l === "HIT"), labels.join(","));
    assert.ok(labels.includes("BYPASS"));
  }
  const bodies = await Promise.all(responses.map((r) => r.text()));
  assert.equal(new Set(bodies).size, 1);
});

Deno.test("a module run flips the items version: the next request is a MISS", async () => {
  const f = await setup();
  await f.app.request(itemsPath(f, f.poIds[2]));
  assert.equal(
    (await f.app.request(itemsPath(f, f.poIds[2]))).headers.get("x-cache"),
    xCache("HIT"),
  );
  const detail =
    await (await f.app.request(`/api/projects/${f.projectId}/presentation_objects/${f.poIds[2]}`))
      .json();
  const run = await f.app.request(`/api/projects/${f.projectId}/modules/${detail.moduleId}/run`, {
    method: "POST",
    headers: admin,
  });
  assert.equal(run.status, 200);
  assert.equal(
    (await f.app.request(itemsPath(f, f.poIds[2]))).headers.get("x-cache"),
    xCache("MISS"),
  );
  assert.equal(
    (await f.app.request(itemsPath(f, f.poIds[2]))).headers.get("x-cache"),
    xCache("HIT"),
  );
});

Deno.test("PATCH of a presentation object flips its detail version and its items follow the new config", async () => {
  const f = await setup();
  const path = `/api/projects/${f.projectId}/presentation_objects/${f.poIds[3]}`;
  const before = await (await f.app.request(path)).json();
  assert.equal((await f.app.request(path)).headers.get("x-cache"), xCache("HIT"));
  // Items read (twice: the second from the remembered detail) before the edit.
  for (let i = 0; i < 2; i++) {
    const items = await (await f.app.request(`${path}/items`)).json();
    assert.notDeepEqual(Object.keys(items.items[0]).sort(), ["count", "indicator_id"]);
  }
  const fetch = {
    values: [{ prop: "count", func: "SUM" }],
    groupBys: ["indicator_id"],
    filters: [],
  };
  const patched = await f.app.request(path, {
    method: "PATCH",
    headers: { ...admin, "content-type": "application/json" },
    body: JSON.stringify({ label: "Totals by indicator", config: { ...before.config, fetch } }),
  });
  assert.equal(patched.status, 200, await patched.clone().text());
  const after = await f.app.request(path);
  assert.equal(after.headers.get("x-cache"), xCache("MISS"));
  assert.equal((await after.json()).label, "Totals by indicator");
  const items = await (await f.app.request(`${path}/items`)).json();
  assert.deepEqual(Object.keys(items.items[0]).sort(), ["count", "indicator_id"]);
});

Deno.test("POST /caches/flush-all: 401 without a token, 403 with a wrong one, both flushing nothing", async () => {
  const f = await setup();
  await f.app.request(itemsPath(f, f.poIds[0]));
  const keysBefore = Number(await f.redis.cli("DBSIZE"));
  assert.equal(keysBefore > 0, REDIS_ENABLED);
  const none = await f.app.request("/caches/flush-all", { method: "POST" });
  assert.equal(none.status, 401);
  const wrong = await f.app.request("/caches/flush-all", {
    method: "POST",
    headers: { authorization: "Bearer nope" },
  });
  assert.equal(wrong.status, 403);
  assert.equal(Number(await f.redis.cli("DBSIZE")), keysBefore);
});

Deno.test("POST /caches/flush-all with the admin token empties Redis and records the flush", async () => {
  const f = await setup();
  await f.app.request(itemsPath(f, f.poIds[0]));
  const response = await f.app.request("/caches/flush-all", { method: "POST", headers: admin });
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { success: true });
  // FLUSHDB ASYNC; then the flush and the cache format are recorded (outside cache:*).
  assert.equal(await f.redis.cli("--scan", "--pattern", "cache:*"), "");
  if (REDIS_ENABLED) {
    const record = JSON.parse(await f.redis.cli("GET", "wb:last_flush"));
    assert.deepEqual([record.by, record.reason, record.redis], [
      "admin token",
      "flush-all",
      "flushed",
    ]);
    assert.equal(await f.redis.cli("GET", "wb:cache_format"), String(CACHE_FORMAT_VERSION));
  }
  assert.deepEqual(
    (await f.redis.cli("--scan")).split("\n").filter(Boolean).sort(),
    REDIS_ENABLED ? ["wb:cache_format", "wb:last_flush"] : [],
  );
  assert.equal(
    (await f.app.request(itemsPath(f, f.poIds[0]))).headers.get("x-cache"),
    xCache("MISS"),
  );
});

Deno.test("writes need the admin token", async () => {
  const f = await setup();
  const run = await f.app.request(`/api/projects/${f.projectId}/modules/m001/run`, {
    method: "POST",
  });
  assert.equal(run.status, 401);
  const patch = await f.app.request(
    `/api/projects/${f.projectId}/presentation_objects/${f.poIds[0]}`,
    {
      method: "PATCH",
      headers: { authorization: "Bearer wrong", "content-type": "application/json" },
      body: "{}",
    },
  );
  assert.equal(patch.status, 403);
});

Deno.test("bad input is a 4xx with a message, never a 500", async () => {
  const f = await setup();
  const cases: [string, RequestInit | undefined, number][] = [
    [`/api/projects/${f.projectId}/presentation_objects/no-such-po/items`, undefined, 404],
    [`/api/projects/${f.projectId}/presentation_objects/bad%20id/items`, undefined, 400],
    [`/api/projects/${f.projectId}/presentation_objects/${"x".repeat(65)}`, undefined, 400],
    ["/api/projects/nope/presentation_objects", undefined, 404],
    ["/api/datasets/hmis/summary?level=9", undefined, 400],
    [`/api/projects/${f.projectId}/metrics/nope/info`, undefined, 404],
    [`/api/projects/${f.projectId}/presentation_objects/${f.poIds[0]}`, {
      method: "PATCH",
      headers: { ...admin, "content-type": "application/json" },
      body: "{not json",
    }, 400],
    [`/api/projects/${f.projectId}/presentation_objects/${f.poIds[0]}`, {
      method: "PATCH",
      headers: { ...admin, "content-type": "application/json" },
      body: JSON.stringify({
        config: { fetch: { values: [{ prop: "count; DROP TABLE x", func: "SUM" }] } },
      }),
    }, 400],
    ["/no/such/route", undefined, 404],
  ];
  for (const [path, init, status] of cases) {
    const response = await f.app.request(path, init);
    assert.equal(response.status, status, `${init?.method ?? "GET"} ${path}`);
    const body = await response.json();
    assert.equal(typeof body.message, "string", `${path} has no message`);
  }
});

Deno.test("metric info, replicant options, dataset summaries and structure are cached", async () => {
  const f = await setup();
  const detail =
    await (await f.app.request(`/api/projects/${f.projectId}/presentation_objects/${f.poIds[0]}`))
      .json();
  for (
    const path of [
      `/api/projects/${f.projectId}/metrics/${detail.metricId}/info`,
      `/api/projects/${f.projectId}/metrics/${detail.metricId}/replicant_options?replicateBy=indicator_id`,
      "/api/datasets/hmis/summary",
      "/api/datasets/hmis/summary?level=3",
      "/api/datasets/hfa/summary",
    ]
  ) {
    const first = await f.app.request(path);
    assert.equal(first.status, 200, path);
    assert.equal(first.headers.get("x-cache"), xCache("MISS"), path);
    assert.equal((await f.app.request(path)).headers.get("x-cache"), xCache("HIT"), path);
  }
  const structure = await f.app.request("/api/structure");
  assert.equal(structure.status, 200);
});

Deno.test({
  name: "Redis killed mid-run: requests keep answering from Postgres (BYPASS), then HIT again",
  ignore: !REDIS_ENABLED, // about Redis itself
}, async () => {
  const f = await setup();
  await f.app.request(itemsPath(f, f.poIds[0]));
  await f.redis.kill();
  try {
    for (const poId of f.poIds) {
      const response = await f.app.request(itemsPath(f, poId));
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("x-cache"), "BYPASS");
    }
    assert.equal((await (await f.app.request("/healthz")).json()).redis, "down");
  } finally {
    await f.redis.restart();
  }
  const deadline = Date.now() + 5000;
  let label = "";
  while (Date.now() < deadline) {
    label = (await f.app.request(itemsPath(f, f.poIds[0]))).headers.get("x-cache") ?? "";
    if (label === "HIT") break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(label, "HIT");
});

Deno.test("server tests teardown", async () => {
  if (!fixture) return;
  await fixture.store.close();
  await fixture.redis.stop();
  await fixture.database[Symbol.asyncDispose]();
});
