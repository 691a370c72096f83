/**
 * getMany, compression, the value size cap, observers, and immutable cache-aside,
 * against a real redis-server; getMany also on a Redis Cluster started once for this file.
 */
import assert from "node:assert/strict";
import { createClient } from "redis";
import { ImmutableCache } from "./immutable_cache.ts";
import { keySlot } from "./key_slot.ts";
import type { CacheOperation } from "./observe.ts";
import { connectRedis, type RedisClient } from "./redis.ts";
import { TimCacheC } from "./tim_cache_c.ts";
import { startRedis } from "./testing/redis_server.ts";
import { startRedisCluster } from "./testing/redis_cluster.ts";
import { RedisStore } from "./redis_store.ts";

interface Value {
  id: string;
  rev: number;
  rows?: number[];
}
const funcs = {
  uniquenessHashFromParams: (id: string) => id,
  versionHashFromParams: (rev: number) => String(rev),
  parseData: (d: Value) => ({
    shouldStore: true,
    uniquenessHash: d.id,
    versionHash: String(d.rev),
  }),
};

async function connect(url: string): Promise<RedisClient> {
  const client = createClient({ url }) as unknown as RedisClient;
  await client.connect();
  return client;
}

async function commandCalls(client: RedisClient, command: string): Promise<number> {
  const info = await client.info("commandstats");
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

Deno.test("getMany() reads 50 cached keys with one MGET and no GET", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  try {
    const cache = new TimCacheC("batch", funcs, {
      store: RedisStore.over(() => client),
      log: () => {},
    });
    const ids = Array.from({ length: 50 }, (_, i) => `k${i}`);
    for (const id of ids) await cache.setPromise(Promise.resolve({ id, rev: 1 }), id, 1);
    await client.configResetStat();
    const results = await cache.getMany(ids.map((id) => ({ params: id, version: 1 })), () => {
      throw new Error("no producer on hits");
    });
    assert.deepEqual(results.map((r) => r.value.id), ids);
    assert.ok(results.every((r) => r.outcome === "hit"));
    assert.equal(await commandCalls(client, "mget"), 1);
    assert.equal(await commandCalls(client, "get"), 0);
  } finally {
    client.destroy();
  }
});

/** The version-check test, on one node or a cluster. */
async function getManyChecksVersions(client: RedisClient, prefix: string): Promise<void> {
  const cache = new TimCacheC(prefix, funcs, {
    store: RedisStore.over(() => client),
    log: () => {},
  });
  await cache.setPromise(Promise.resolve({ id: "a", rev: 1 }), "a", 1);
  await cache.setPromise(Promise.resolve({ id: "b", rev: 1 }), "b", 1); // stale version below
  const produced: string[] = [];
  const results = await cache.getMany([
    { params: "a", version: 1 },
    { params: "b", version: 2 },
    { params: "c", version: 1 },
    { params: "c", version: 1 }, // twice in one batch: one producer run
  ], (id, index) => {
    produced.push(id);
    return Promise.resolve({ id, rev: index === 1 ? 2 : 1 });
  });
  assert.deepEqual(results.map((r) => [r.value.id, r.value.rev, r.outcome]), [
    ["a", 1, "hit"],
    ["b", 2, "miss"],
    ["c", 1, "miss"],
    ["c", 1, "hit"],
  ]);
  assert.deepEqual(produced.sort(), ["b", "c"]);
  assert.equal((await cache.get("b", 2))?.rev, 2);
}

Deno.test("getMany() checks versions per key and fills each miss once, in order", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  try {
    await getManyChecksVersions(client, "batch2");
  } finally {
    client.destroy();
  }
});

Deno.test("TimCacheC compresses values above the threshold and reads them back", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  try {
    const cache = new TimCacheC("zip", funcs, {
      store: RedisStore.over(() => client),
      compressAboveBytes: 1024,
      log: () => {},
    });
    const big = { id: "big", rev: 1, rows: Array.from({ length: 5000 }, (_, i) => i % 97) };
    await cache.setPromise(Promise.resolve(big), "big", 1);
    await cache.setPromise(Promise.resolve({ id: "small", rev: 1 }), "small", 1);
    const rawBig = (await client.get(cache.keyFor("big")))!;
    assert.ok(rawBig.startsWith("z1:"));
    assert.ok(rawBig.length < JSON.stringify(big).length / 3, `compressed to ${rawBig.length}`);
    assert.ok((await client.get(cache.keyFor("small")))!.startsWith("{"));
    assert.deepEqual(await cache.get("big", 1), big);
    // A broken compressed value is a miss, and is removed.
    await client.set(cache.keyFor("big"), "z1:not-base64-deflate!");
    assert.equal(await cache.get("big", 1), undefined);
    await client.ping();
    assert.equal(await client.exists(cache.keyFor("big")), 0);
  } finally {
    client.destroy();
  }
});

Deno.test("values above maxValueBytes are not stored, and the observer is told", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  const seen: CacheOperation[] = [];
  const store = RedisStore.over(client);
  const remove = store.observers.add((op) => seen.push(op));
  try {
    const cache = new TimCacheC("cap", funcs, {
      store,
      compressAboveBytes: 1_000_000,
      maxValueBytes: 2000,
      log: () => {},
    });
    const result = await cache.getOrSet(
      "huge",
      1,
      () =>
        Promise.resolve({ id: "huge", rev: 1, rows: Array.from({ length: 2000 }, (_, i) => i) }),
    );
    assert.equal(result.value.rows?.length, 2000); // the caller still gets it
    assert.equal(await client.exists(cache.keyFor("huge")), 0);
    assert.ok(
      seen.some((op) => op.cache === "cap" && op.op === "set" && op.result === "too_large"),
    );
    assert.ok(
      seen.some((op) => op.cache === "cap" && op.op === "get_or_set" && op.result === "miss"),
    );
    await cache.getOrSet("ok", 1, () => Promise.resolve({ id: "ok", rev: 1 }));
    await cache.getOrSet("ok", 1, () => Promise.resolve({ id: "ok", rev: 1 }));
    assert.ok(
      seen.some((op) => op.cache === "cap" && op.op === "get_or_set" && op.result === "hit"),
    );
  } finally {
    remove();
    client.destroy();
  }
});

Deno.test("ImmutableCache: positive results only, no TTL, existence pre-warmed on write", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  try {
    const runs = new ImmutableCache<{ rows: number }>("module_run", {
      store: RedisStore.over(() => client),
      log: () => {},
    });
    let lookups = 0;
    const missing = await runs.get("r1", () => {
      lookups++;
      return Promise.resolve(undefined);
    });
    assert.equal(missing.value, undefined);
    assert.equal(await client.exists("cache:module_run:r:r1"), 0); // negative never cached
    const found = await runs.get("r1", () => {
      lookups++;
      return Promise.resolve({ rows: 42 });
    });
    assert.deepEqual(found, { value: { rows: 42 }, hit: false });
    assert.equal(lookups, 2);
    assert.equal(await client.ttl("cache:module_run:r:r1"), -1); // no TTL
    assert.deepEqual(await runs.get("r1", () => Promise.reject(new Error("not called"))), {
      value: { rows: 42 },
      hit: true,
    });

    await runs.markExists("r2"); // the writer pre-warms the flag
    assert.equal(
      await runs.exists("r2", () => Promise.reject(new Error("no database check"))),
      true,
    );
    let checks = 0;
    const check = () => Promise.resolve(++checks > 1);
    assert.equal(await runs.exists("r3", check), false); // negative: not cached
    assert.equal(await runs.exists("r3", check), true);
    assert.equal(await runs.exists("r3", check), true); // now cached
    assert.equal(checks, 2);
  } finally {
    client.destroy();
  }
});

// getMany on a Redis Cluster (3 masters, 3 replicas), started once for these tests.
const cluster = await startRedisCluster();
const sharded = await connectRedis(cluster.target, { l1: false, log: () => {} });

/** Calls of `command` summed over the masters, per master. */
async function clusterCommandCalls(command: string): Promise<number[]> {
  return (await cluster.onMasters("INFO", "commandstats")).map((info) =>
    Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0)
  );
}

Deno.test("getMany() on a Redis Cluster: one MGET per slot, to every master at once, and no GET", async () => {
  const cache = new TimCacheC("batchcluster", funcs, {
    store: RedisStore.over(() => sharded.client),
    log: () => {},
  });
  const ids = Array.from({ length: 100 }, (_, i) => `k${i}`);
  for (const id of ids) await cache.setPromise(Promise.resolve({ id, rev: 1 }), id, 1);
  const slots = new Set(ids.map((id) => keySlot(cache.keyFor(id))));
  await cluster.onMasters("CONFIG", "RESETSTAT");
  const started = performance.now();
  const results = await cache.getMany(ids.map((id) => ({ params: id, version: 1 })), () => {
    throw new Error("no producer on hits");
  });
  const ms = performance.now() - started;
  assert.deepEqual(results.map((r) => r.value.id), ids);
  assert.ok(results.every((r) => r.outcome === "hit"));
  const mgets = await clusterCommandCalls("mget");
  console.log(
    `getMany(100) on 3 masters: ${slots.size} slots, MGETs per master ${mgets.join("/")}, ` +
      `${ms.toFixed(1)} ms`,
  );
  assert.equal(mgets.reduce((a, b) => a + b, 0), slots.size);
  assert.ok(mgets.every((n) => n > 0), "every master answered its share");
  assert.deepEqual(await clusterCommandCalls("get"), [0, 0, 0]);
});

Deno.test("getMany() on a Redis Cluster checks versions per key and fills each miss once, in order", async () => {
  await getManyChecksVersions(sharded.client, "batchcluster2");
});

Deno.test("getMany() on a Redis Cluster reads keys that share a hash tag with one MGET", async () => {
  const cache = new TimCacheC("tagged", {
    ...funcs,
    uniquenessHashFromParams: (id: string) => `{project1}:${id}`,
    parseData: (d: Value) => ({
      shouldStore: true,
      uniquenessHash: `{project1}:${d.id}`,
      versionHash: String(d.rev),
    }),
  }, { store: RedisStore.over(() => sharded.client), log: () => {} });
  const ids = Array.from({ length: 20 }, (_, i) => `k${i}`);
  for (const id of ids) await cache.setPromise(Promise.resolve({ id, rev: 1 }), id, 1);
  await cluster.onMasters("CONFIG", "RESETSTAT");
  const results = await cache.getMany(ids.map((id) => ({ params: id, version: 1 })), () => {
    throw new Error("no producer on hits");
  });
  assert.ok(results.every((r) => r.outcome === "hit"));
  assert.equal((await clusterCommandCalls("mget")).reduce((a, b) => a + b, 0), 1);
});

Deno.test("batch cluster teardown", async () => {
  await sharded.close();
  await cluster.stop();
});
