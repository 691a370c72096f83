/**
 * The instance overview through the stale-while-revalidate memo, on real Postgres and
 * a real redis-server, with a fake clock.
 */
import assert from "node:assert/strict";
import { StaleWhileRevalidate } from "../lib/mod.ts";
import { connectTestStore } from "./testing/redis_mode.ts";
import { startRedis } from "../lib/testing/redis_server.ts";
import { createApp } from "./app.ts";
import { createServerCaches } from "./caches.ts";
import { createTestDatabase, loadSmallFixture } from "./testing/pg.ts";

const WINDOW = 60_000;

Deno.test("GET /api/instance/overview: MISS, HIT within the window, STALE at once after it, then the refreshed value", async () => {
  await using database = await createTestDatabase();
  await loadSmallFixture(database.db);
  await using redis = await startRedis();
  const store = await connectTestStore(redis.url);
  try {
    let now = 1_800_000_000_000 - (1_800_000_000_000 % WINDOW) + 5_000;
    const clock = () => now;
    const memo = new StaleWhileRevalidate({ tenant: "overview-test", store, clock, log: () => {} });
    const app = await createApp({
      openAccess: true, // anonymous reads: these tests are about caching, not access
      db: database.db,
      caches: createServerCaches({ store, log: () => {} }),
      memo,
      clock,
      overviewWindowMs: WINDOW,
      log: () => {},
    });
    const boundary = now - 5_000 + WINDOW;

    const cold = await app.request("/api/instance/overview");
    assert.equal(cold.status, 200);
    assert.equal(cold.headers.get("x-cache"), "MISS");
    assert.equal(cold.headers.get("x-window-next-boundary"), new Date(boundary).toISOString());
    assert.equal(cold.headers.get("cache-control"), "private, max-age=55");
    assert.match(cold.headers.get("x-refresh-ms") ?? "", /^\d+$/);
    const body = await cold.json();
    assert.equal(body.reportingByMonth.length, 12);
    assert.ok(
      body.completenessByLga.every((l: { completeness: number }) =>
        l.completeness > 0 && l.completeness <= 1
      ),
    );
    const [{ total }] = await database.db.query<{ total: number }>(
      "SELECT sum(count)::float8 AS total FROM dataset_hmis WHERE period_id = $1",
      [body.latestPeriod],
    );
    assert.equal(
      body.latestTotals.reduce((s: number, t: { total: number }) => s + t.total, 0),
      total,
    );

    assert.equal(cold.headers.get("x-window-refreshed-at"), body.computedAt);

    now += 10_500;
    const warm = await app.request("/api/instance/overview");
    assert.equal(warm.headers.get("x-cache"), "HIT");
    // The browser may keep a fresh answer up to the boundary, never past it (44.5 s left).
    assert.equal(warm.headers.get("cache-control"), "private, max-age=44");
    assert.equal((await warm.json()).computedAt, body.computedAt);

    now = boundary + 1; // the window turns
    const stale = await app.request("/api/instance/overview");
    assert.equal(stale.headers.get("x-cache"), "STALE");
    // An older window's value is never stored by the browser (a reload asks again).
    assert.equal(stale.headers.get("cache-control"), "no-store");
    assert.equal(stale.headers.get("x-window-refreshed-at"), body.computedAt);
    assert.equal((await stale.json()).computedAt, body.computedAt);
    assert.equal(
      stale.headers.get("x-window-next-boundary"),
      new Date(boundary + WINDOW).toISOString(),
    );
    await memo.settled();
    const refreshed = await app.request("/api/instance/overview");
    assert.equal(refreshed.headers.get("x-cache"), "HIT");
    assert.equal((await refreshed.json()).computedAt, new Date(boundary + 1).toISOString());
    assert.equal(
      refreshed.headers.get("x-window-refreshed-at"),
      new Date(boundary + 1).toISOString(),
    );
  } finally {
    await store.close();
  }
});
