/**
 * Two apps in one process, each on its own Redis (its own `RedisStore`): nothing of one
 * reaches the other. A flush-all on one leaves the other's keys and in-process caches; a
 * Redis outage of one leaves the other's status, breakers and hits alone.
 */
import assert from "node:assert/strict";
import { RedisStore } from "../lib/mod.ts";
import { startRedis } from "../lib/testing/redis_server.ts";
import { createApp } from "./app.ts";
import { createServerCaches } from "./caches.ts";
import { createTestDatabase, loadSmallFixture } from "./testing/pg.ts";
import { REDIS_ENABLED } from "./testing/redis_mode.ts";

const ADMIN = "two-stores-admin-token-8c1f4e7a";
const quiet = () => {};

Deno.test({
  name:
    "two apps on two Redis servers in one process: a flush or an outage of one leaves the other",
  ignore: !REDIS_ENABLED, // about Redis itself
  fn: async () => {
    await using database = await createTestDatabase();
    await loadSmallFixture(database.db);
    await using redisA = await startRedis();
    await using redisB = await startRedis();
    const storeA = await RedisStore.connect(redisA.url, {
      log: quiet,
      commandTimeoutMs: 300,
      maxReconnectDelayMs: 100,
    });
    const storeB = await RedisStore.connect(redisB.url, {
      log: quiet,
      commandTimeoutMs: 300,
      maxReconnectDelayMs: 100,
    });
    try {
      const app = (store: RedisStore, instance: string) =>
        createApp({
          openAccess: true, // anonymous reads: this test is about the stores, not access
          db: database.db,
          caches: createServerCaches({ store, log: quiet }),
          adminToken: ADMIN,
          instance,
          log: quiet,
        });
      const appA = await app(storeA, "a");
      const appB = await app(storeB, "b");
      const paths = ["/api/datasets/hfa/summary", "/api/datasets/hmis/summary"];
      const read = async (target: typeof appA, path: string) => {
        const response = await target.request(path);
        assert.equal(response.status, 200, `${path}: ${response.status}`);
        await response.body?.cancel();
        return response.headers.get("x-cache");
      };
      for (const path of paths) {
        assert.equal(await read(appA, path), "MISS");
        assert.equal(await read(appB, path), "MISS");
      }
      const cacheKeys = async (redis: typeof redisA) =>
        (await redis.cli("--scan", "--pattern", "cache:*")).split("\n").filter(Boolean).sort();
      const keysB = await cacheKeys(redisB);
      assert.ok(keysB.length >= paths.length, `B holds ${keysB.join(",")}`);
      assert.deepEqual(await cacheKeys(redisA), keysB); // the same entries, in two places

      // A flush-all of app A empties A's Redis only.
      const flushed = await appA.request("/caches/flush-all", {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      assert.equal(flushed.status, 200, await flushed.text());
      const deadline = Date.now() + 2000; // FLUSHDB ASYNC frees in the background
      while ((await cacheKeys(redisA)).length > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.deepEqual(await cacheKeys(redisA), []);
      assert.deepEqual(await cacheKeys(redisB), keysB);
      for (const path of paths) {
        assert.equal(await read(appB, path), "HIT", `B after A's flush: ${path}`);
        assert.equal(await read(appA, path), "MISS", `A after its flush: ${path}`);
      }

      // A's Redis gone: A bypasses and says so; B still hits and is up.
      await redisA.kill();
      const health = async (target: typeof appA) =>
        (await (await target.request("/healthz")).json()).redis;
      assert.equal(await read(appA, paths[0]), "BYPASS");
      assert.equal(await health(appA), "down");
      assert.equal(await health(appB), "up");
      for (const path of paths) assert.equal(await read(appB, path), "HIT");
      assert.equal(storeA.status(), "down");
      assert.equal(storeB.status(), "up");
    } finally {
      await storeA.close();
      await storeB.close();
    }
  },
});
