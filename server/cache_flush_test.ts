/**
 * The release flush against a real redis-server: once per new cache format however many
 * processes boot together, never for a missing record, never stuck on a dead Redis; and
 * the real entry point doing it at boot.
 */
import assert from "node:assert/strict";
import { createClient } from "redis";
import type { RedisClient } from "../lib/mod.ts";
import { startRedis } from "../lib/testing/redis_server.ts";
import {
  CACHE_FORMAT_KEY,
  FlushLog,
  flushOnNewRelease,
  LAST_FLUSH_KEY,
  type ReleaseFlushOutcome,
} from "./cache_flush.ts";
import { startServer } from "./testing/server_process.ts";
import { createTestDatabase } from "./testing/pg.ts";
import { REDIS_ENABLED } from "./testing/redis_mode.ts";
import { CACHE_FORMAT_VERSION } from "./version.ts";
import { RedisStore } from "../lib/mod.ts";

const FORMAT = 7;

async function client(url: string): Promise<RedisClient> {
  const redis = createClient({ url });
  await redis.connect();
  return redis as unknown as RedisClient;
}

/** One booting process: its own connection, its own flush counter. */
async function boot(url: string, flushes: string[], name: string) {
  const redis = await client(url);
  const flushLog = new FlushLog({ store: RedisStore.over(() => redis), formatVersion: FORMAT });
  try {
    return await flushOnNewRelease({
      store: RedisStore.over(() => redis),
      formatVersion: FORMAT,
      serverVersion: "9.9.9",
      flushLog,
      flush: async () => {
        flushes.push(name);
        await (redis as unknown as { flushDb(): Promise<unknown> }).flushDb();
        return { redis: "flushed", localCaches: 0 };
      },
    });
  } finally {
    await (redis as unknown as { close(): Promise<void> }).close();
  }
}

Deno.test({
  name:
    "flushOnNewRelease(): another recorded format is flushed once by five processes booting together",
  ignore: !REDIS_ENABLED, // about Redis itself
  fn: async () => {
    await using redis = await startRedis();
    for (let i = 0; i < 50; i++) await redis.cli("SET", `cache:po_items:${i}`, "old");
    await redis.cli("SET", CACHE_FORMAT_KEY, String(FORMAT - 1));
    const flushes: string[] = [];
    const outcomes = await Promise.all(
      ["a", "b", "c", "d", "e"].map((name) => boot(redis.url, flushes, name)),
    );
    assert.equal(flushes.length, 1, `flushed by ${flushes.join(", ")}`);
    assert.equal(outcomes.filter((o) => o === "flushed").length, 1, outcomes.join(","));
    assert.ok(outcomes.every((o) => ["flushed", "other_process", "current"].includes(o)));
    assert.equal(await redis.cli("--scan", "--pattern", "cache:*"), "");
    assert.equal(await redis.cli("GET", CACHE_FORMAT_KEY), String(FORMAT));
    const record = JSON.parse(await redis.cli("GET", LAST_FLUSH_KEY));
    assert.deepEqual([record.reason, record.by, record.redis], [
      "release",
      "release 9.9.9",
      "flushed",
    ]);

    // The next boot of the same release finds its format: nothing is flushed.
    await redis.cli("SET", "cache:po_items:new", "kept");
    assert.equal(await boot(redis.url, flushes, "f"), "current");
    assert.equal(await redis.cli("GET", "cache:po_items:new"), "kept");
    assert.equal(flushes.length, 1);
  },
});

Deno.test({
  name: "flushOnNewRelease(): a missing record (new or evicted) is recorded without a flush",
  ignore: !REDIS_ENABLED,
  fn: async () => {
    await using redis = await startRedis();
    await redis.cli("SET", "cache:po_items:x", "kept");
    const flushes: string[] = [];
    assert.equal(await boot(redis.url, flushes, "a"), "recorded");
    assert.deepEqual(flushes, []);
    assert.equal(await redis.cli("GET", "cache:po_items:x"), "kept");
    assert.equal(await redis.cli("GET", CACHE_FORMAT_KEY), String(FORMAT));
  },
});

Deno.test({
  name: "flushOnNewRelease(): a Redis that does not answer is 'unavailable', not a stuck boot",
  ignore: !REDIS_ENABLED,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using redis = await startRedis();
    const connection = await client(redis.url);
    await redis.cli("CLIENT", "PAUSE", "800", "ALL");
    const outcome: ReleaseFlushOutcome = await flushOnNewRelease({
      store: RedisStore.over(() => connection),
      formatVersion: FORMAT,
      serverVersion: "9.9.9",
      flushLog: new FlushLog({
        store: RedisStore.over(() => connection),
        formatVersion: FORMAT,
        timeoutMs: 100,
      }),
      flush: () => Promise.reject(new Error("never called")),
      timeoutMs: 100,
    });
    assert.equal(outcome, "unavailable");
    assert.equal(
      await flushOnNewRelease({
        store: RedisStore.over(() => undefined),
        formatVersion: FORMAT,
        serverVersion: "9.9.9",
        flushLog: new FlushLog({ store: RedisStore.over(() => undefined), formatVersion: FORMAT }),
        flush: () => Promise.reject(new Error("never called")),
      }),
      "unavailable",
    );
    await (connection as unknown as { close(): Promise<void> }).close();
  },
});

Deno.test({
  name:
    "server/main.ts flushes at boot when Redis holds another cache format, and not at the next boot",
  ignore: !REDIS_ENABLED,
  fn: async () => {
    await using database = await createTestDatabase();
    await using redis = await startRedis();
    for (let i = 0; i < 20; i++) await redis.cli("SET", `cache:po_items:${i}`, "old");
    await redis.cli("SET", CACHE_FORMAT_KEY, String(CACHE_FORMAT_VERSION - 1));
    const env = { DATABASE_URL: database.url, REDIS_URL: redis.url, WB_INSTANCE: "release" };
    {
      await using server = await startServer(env);
      const line = await server.waitForLog((l) => l.event === "release_flush");
      assert.equal(line.outcome, "flushed");
    }
    assert.equal(await redis.cli("--scan", "--pattern", "cache:*"), "");
    assert.equal(await redis.cli("GET", CACHE_FORMAT_KEY), String(CACHE_FORMAT_VERSION));
    await redis.cli("SET", "cache:po_items:new", "kept");
    {
      await using server = await startServer(env);
      const line = await server.waitForLog((l) => l.event === "release_flush");
      assert.equal(line.outcome, "current");
    }
    assert.equal(await redis.cli("GET", "cache:po_items:new"), "kept");
  },
});
