/**
 * The cache page's numbers against real Redis: one node and a 3-master Redis Cluster (keys
 * spread over every master must all be counted).
 */
import assert from "node:assert/strict";
import { connectRedis, type RedisClient } from "../lib/mod.ts";
import { startRedisCluster } from "../lib/testing/redis_cluster.ts";
import { startRedis } from "../lib/testing/redis_server.ts";
import { FlushLog } from "./cache_flush.ts";
import { CacheCounters, collectCacheStats } from "./cache_stats.ts";
import { REDIS_ENABLED } from "./testing/redis_mode.ts";
import { RedisStore } from "../lib/mod.ts";

async function fill(redis: RedisClient, count: number): Promise<void> {
  const set = (redis as unknown as { set(k: string, v: string): Promise<unknown> }).set.bind(redis);
  for (let i = 0; i < count; i++) await set(`cache:po_items:${i}`, "x".repeat(200));
  for (let i = 0; i < 5; i++) await set(`cache:ds_hmis:${i}`, "y");
  await set("wb:cache_format", "1"); // not a cache key
}

async function stats(redis: RedisClient, options: { maxKeys?: number; scanCount?: number } = {}) {
  const store = RedisStore.over(redis);
  const counters = new CacheCounters(store.observers);
  try {
    return await collectCacheStats({
      store,
      counters,
      flushLog: new FlushLog({ store, formatVersion: 1 }),
      prefixes: ["po_detail", "po_items"],
      ...options,
    });
  } finally {
    counters.uninstall();
  }
}

Deno.test({
  name: "collectCacheStats(): keys and sampled memory per prefix; a bound truncates the scan",
  ignore: !REDIS_ENABLED, // about Redis itself
  fn: async () => {
    await using server = await startRedis();
    const connection = await connectRedis(server.url, { log: () => {}, l1: false });
    try {
      await fill(connection.client, 120);
      const report = await stats(connection.client);
      const byPrefix = Object.fromEntries(report.prefixes.map((p) => [p.prefix, p]));
      assert.deepEqual(Object.keys(byPrefix), ["ds_hmis", "po_detail", "po_items"]);
      assert.equal(byPrefix.po_items.keys, 120);
      assert.equal(byPrefix.ds_hmis.keys, 5);
      assert.equal(byPrefix.po_detail.keys, 0);
      assert.equal(byPrefix.po_items.memorySampled, 20);
      assert.ok(byPrefix.po_items.memoryBytes! > 120 * 200);
      assert.equal(report.scannedKeys, 125);
      assert.equal(report.truncated, false);
      assert.ok(report.redisUsedMemoryBytes! > 0);
      const bounded = await stats(connection.client, { maxKeys: 10, scanCount: 10 });
      assert.equal(bounded.truncated, true);
      assert.ok(bounded.scannedKeys < 125);
      // A bound reached on the scan's last reply stopped nothing: the counts are complete.
      const exact = await stats(connection.client, { maxKeys: 125 });
      assert.equal(exact.scannedKeys, 125);
      assert.equal(exact.truncated, false);
    } finally {
      await connection.close();
    }
  },
});

Deno.test({
  name: "collectCacheStats() on a Redis Cluster counts the keys of every master",
  ignore: !REDIS_ENABLED,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using cluster = await startRedisCluster({ replicas: 0 });
    const connection = await connectRedis(cluster.target, { log: () => {}, l1: false });
    try {
      await fill(connection.client, 60);
      const perMaster = (await cluster.onMasters("DBSIZE")).map(Number);
      assert.ok(perMaster.filter((n) => n > 0).length === 3, "the keys are spread");
      const report = await stats(connection.client);
      const items = report.prefixes.find((p) => p.prefix === "po_items")!;
      assert.equal(items.keys, 60);
      assert.equal(report.scannedKeys, 65);
      assert.ok(items.memoryBytes! > 0);
    } finally {
      await connection.close();
    }
  },
});
