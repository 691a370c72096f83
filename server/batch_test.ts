/**
 * Batched presentation-object items (getMany: one MGET for details, one for items) and
 * immutable module-run records, on real Postgres and a real redis-server.
 */
import assert from "node:assert/strict";
import { RedisStore } from "../lib/mod.ts";
import { REDIS_ENABLED } from "./testing/redis_mode.ts";
import { startRedis } from "../lib/testing/redis_server.ts";
import { createApp } from "./app.ts";
import { createServerCaches } from "./caches.ts";
import { createTestDatabase, loadSmallFixture } from "./testing/pg.ts";

const ADMIN = { authorization: "Bearer batch-admin" };

Deno.test({
  name: "GET /api/projects/:p/items reads many presentation objects with one MGET per cache",
  ignore: !REDIS_ENABLED, // counts Redis commands
}, async () => {
  await using database = await createTestDatabase();
  await loadSmallFixture(database.db);
  await using redis = await startRedis();
  const store = await RedisStore.connect(redis.url, { log: () => {}, l1: false }); // count Redis commands, not L1 hits
  try {
    const app = await createApp({
      openAccess: true, // anonymous reads: these tests are about caching, not access
      db: database.db,
      caches: createServerCaches({ store, log: () => {} }),
      log: () => {},
    });
    const pos = (await (await app.request("/api/projects/demo/presentation_objects")).json()).items
      .map((p: { poId: string }) => p.poId);
    const query = `/api/projects/demo/items?poIds=${[...pos, "no-such-po"].join(",")}`;
    const cold = await app.request(query);
    assert.equal(cold.status, 200);
    assert.equal(cold.headers.get("x-cache"), "MISS");
    const coldBody = await cold.json();
    assert.equal(coldBody.items.length, pos.length + 1);
    assert.deepEqual(coldBody.items.at(-1), {
      poId: "no-such-po",
      error: "not_found",
      message: "No presentation object 'no-such-po'",
    });
    // Each entry equals what the single-object route returns.
    const single =
      await (await app.request(`/api/projects/demo/presentation_objects/${pos[0]}/items`)).json();
    const { poId: _id, xCache: _x, ...first } = coldBody.items[0];
    assert.deepEqual(first, single);

    await redis.cli("CONFIG", "RESETSTAT");
    const warm = await app.request(query);
    assert.equal(warm.headers.get("x-cache"), "HIT");
    assert.ok(
      (await warm.json()).items.slice(0, -1).every((i: { xCache: string }) => i.xCache === "HIT"),
    );
    const stats = await redis.cli("INFO", "commandstats");
    assert.match(stats, /cmdstat_mget:calls=2,/);
    assert.doesNotMatch(stats, /cmdstat_get:calls=/);

    for (const bad of ["", "a%20b", Array.from({ length: 101 }, (_, i) => `p${i}`).join(",")]) {
      const response = await app.request(`/api/projects/demo/items?poIds=${bad}`);
      assert.equal(response.status, 400, bad.slice(0, 20));
      assert.match((await response.json()).message, /poIds/);
    }
  } finally {
    await store.close();
  }
});

Deno.test({
  name:
    "module runs are immutable records: pre-warmed on run, filled on read, no TTL, old runs 404",
  ignore: !REDIS_ENABLED, // reads the records in Redis
}, async () => {
  await using database = await createTestDatabase();
  await loadSmallFixture(database.db);
  await using redis = await startRedis();
  const store = await RedisStore.connect(redis.url, { log: () => {} });
  try {
    const app = await createApp({
      openAccess: true, // anonymous reads: these tests are about caching, not access
      db: database.db,
      caches: createServerCaches({ store, log: () => {} }),
      adminToken: "batch-admin",
      log: () => {},
    });
    const run = await (await app.request("/api/projects/demo/modules/m001/run", {
      method: "POST",
      headers: ADMIN,
    }))
      .json();
    assert.match(run.runId, /^\d{8}T\d{12}Z$/);
    const id = `demo.m001.${run.runId}`;
    assert.equal(await redis.cli("EXISTS", `cache:module_run:e:${id}`), "1"); // pre-warmed
    assert.equal(await redis.cli("EXISTS", `cache:module_run:r:${id}`), "0"); // filled on read only
    const path = `/api/projects/demo/modules/m001/runs/${run.runId}`;
    const first = await app.request(path);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("x-cache"), "MISS");
    const summary = await first.json();
    assert.ok(summary.indicators.length > 0);
    assert.equal((await app.request(path)).headers.get("x-cache"), "HIT");
    assert.equal(await redis.cli("TTL", `cache:module_run:r:${id}`), "-1");

    const next = await (await app.request("/api/projects/demo/modules/m001/run", {
      method: "POST",
      headers: ADMIN,
    }))
      .json();
    assert.notEqual(next.runId, run.runId);
    const fake = "20000101T000000000000Z";
    assert.equal((await app.request(`/api/projects/demo/modules/m001/runs/${fake}`)).status, 404);
    assert.equal(await redis.cli("EXISTS", `cache:module_run:e:demo.m001.${fake}`), "0"); // never cached
    assert.equal(await redis.cli("EXISTS", `cache:module_run:r:demo.m001.${fake}`), "0");
  } finally {
    await store.close();
  }
});
