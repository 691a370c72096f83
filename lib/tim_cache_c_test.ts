/**
 * TimCacheC against real redis-servers: TTLs, prefixes, broken entries and outages; and
 * clearAll, flush-all and the per-master breaker on a Redis Cluster started once for this
 * file.
 */
import assert from "node:assert/strict";
import { createClient } from "redis";
import { flushAllServerCaches } from "./flush_all.ts";
import { connectRedis, type RedisClient } from "./redis.ts";
import { L1Cache } from "./l1.ts";
import { TimCacheC } from "./tim_cache_c.ts";
import { ANY_VERSION, type HashFuncs } from "./types.ts";
import type { CacheOperation } from "./observe.ts";
import { deferred } from "./testing/deferred.ts";
import { startRedis, type TestRedis } from "./testing/redis_server.ts";
import { startRedisCluster } from "./testing/redis_cluster.ts";
import { RedisStore } from "./redis_store.ts";

const DAY_S = 86_400;
const funcs: HashFuncs<string, number, { id: string; rev: number }> = {
  uniquenessHashFromParams: (id) => id,
  versionHashFromParams: (rev) => String(rev),
  parseData: (d) => ({ shouldStore: true, uniquenessHash: d.id, versionHash: String(d.rev) }),
};
const quiet = { log: () => {} };

async function connect(url: string): Promise<RedisClient> {
  const client = createClient({ url }) as unknown as RedisClient;
  await client.connect();
  return client;
}

Deno.test("TimCacheC writes with a TTL between 15 and 30 days", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  try {
    const cache = new TimCacheC("ttl", funcs, { store: RedisStore.over(() => client), ...quiet });
    for (let i = 0; i < 20; i++) {
      await cache.setPromise(Promise.resolve({ id: `k${i}`, rev: 1 }), `k${i}`, 1);
      const ttl = await client.ttl(cache.keyFor(`k${i}`));
      assert.ok(ttl >= 15 * DAY_S - 5 && ttl <= 30 * DAY_S, `TTL ${ttl} s outside 15-30 days`);
    }
  } finally {
    client.destroy();
  }
});

Deno.test("TimCacheC.get() refreshes the TTL to 30 days on a hit only", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  try {
    const cache = new TimCacheC("refresh", funcs, {
      store: RedisStore.over(() => client),
      ...quiet,
    });
    await cache.setPromise(Promise.resolve({ id: "a", rev: 1 }), "a", 1);
    const key = cache.keyFor("a");
    await client.expire(key, 100);
    assert.equal(await cache.get("a", 2), undefined); // version mismatch: no refresh
    await client.ping(); // the refresh, if any, was sent before this
    assert.ok(await client.ttl(key) <= 100);
    assert.deepEqual(await cache.get("a", 1), { id: "a", rev: 1 });
    await client.ping();
    assert.ok(await client.ttl(key) >= 30 * DAY_S - 5);
  } finally {
    client.destroy();
  }
});

Deno.test("TimCacheC stores {versionHash, data} under cache:<prefix>:<uniquenessHash>", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  try {
    const cache = new TimCacheC("layout", funcs, {
      store: RedisStore.over(() => client),
      ...quiet,
    });
    await cache.setPromise(Promise.resolve({ id: "a", rev: 3 }), "a", 3);
    const raw = await client.get("cache:layout:a");
    assert.deepEqual(JSON.parse(raw!), { versionHash: "3", data: { id: "a", rev: 3 } });
  } finally {
    client.destroy();
  }
});

Deno.test("getOrSet and get report an L1 hit as local, as it happens; a miss and a Redis hit when they settle", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  const store = RedisStore.over(() => client);
  const seen: CacheOperation[] = [];
  const remove = store.observers.add((op) => seen.push(op));
  try {
    const l1 = new L1Cache();
    const cache = new TimCacheC("reported", funcs, { store, l1, ...quiet });
    const produce = () => Promise.resolve({ id: "a", rev: 1 });
    await cache.getOrSet("a", 1, produce); // a miss: computed and written
    await cache.getOrSet("a", 1, produce); // read from Redis, kept by the L1
    const hit = cache.getOrSet("a", 1, produce);
    const reported = seen.filter((op) => op.op === "get_or_set");
    // The L1 hit was reported before its promise was awaited.
    assert.deepEqual(reported.map((op) => [op.result, op.local ?? false]), [
      ["miss", false],
      ["hit", false],
      ["hit", true],
    ]);
    assert.equal((await hit).outcome, "hit");
    assert.equal(reported[2].key, cache.keyFor("a"));
    // A plain get answered by the L1 is reported the same way; one that misses is not local.
    assert.deepEqual(await cache.get("a", 1), { id: "a", rev: 1 });
    assert.equal(await cache.get("b", 1), undefined);
    assert.deepEqual(
      seen.filter((op) => op.op === "get").map((op) => [op.result, op.local ?? false]),
      [["hit", true], ["miss", false]],
    );
    assert.equal(l1.stats().hits, 2);
  } finally {
    remove();
    client.destroy();
  }
});

Deno.test("the L1 charges a compressed entry its inflated JSON, not its stored length", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  try {
    type Padded = { id: string; rev: number; pad: string };
    const paddedFuncs: HashFuncs<string, number, Padded> = {
      uniquenessHashFromParams: (id) => id,
      versionHashFromParams: (rev) => String(rev),
      parseData: (d) => ({ shouldStore: true, uniquenessHash: d.id, versionHash: String(d.rev) }),
    };
    const maxBytes = 1_000_000;
    const l1 = new L1Cache({ maxBytes });
    const cache = new TimCacheC("l1size", paddedFuncs, {
      store: RedisStore.over(() => client),
      l1,
      ...quiet,
    });
    const pad = "x".repeat(200_000); // 200 KB of JSON that deflates to a few hundred bytes
    for (let i = 0; i < 10; i++) {
      await cache.setPromise(Promise.resolve({ id: `k${i}`, rev: 1, pad }), `k${i}`, 1);
    }
    const stored = (await client.get(cache.keyFor("k0")))!;
    assert.ok(stored.startsWith("z1:") && stored.length < 5_000, "the entry is stored compressed");
    for (let i = 0; i < 10; i++) assert.equal((await cache.get(`k${i}`, 1))?.pad.length, 200_000);
    const { entries, bytes } = l1.stats();
    // Each entry is charged at least 2 × 200,000 bytes: two fit in 1 MB, not all ten.
    assert.ok(bytes <= maxBytes, `L1 holds ${bytes} bytes, over its ${maxBytes}`);
    assert.equal(entries, 2);
    assert.ok(bytes >= 2 * 2 * 200_000, `L1 charged ${bytes} bytes for ${entries} entries`);
  } finally {
    client.destroy();
  }
});

/** The clearAll prefix test, on one node or a cluster (`dbSize`: the keys of all masters). */
async function clearAllDeletesOwnPrefix(
  client: RedisClient,
  dbSize: () => Promise<number>,
  perMaster?: () => Promise<string[]>,
): Promise<void> {
  const prefixes = ["a*", "a", "ab", "a?", "[a]", "a[b]", "a\\", "b"];
  const caches = prefixes.map((p) =>
    new TimCacheC(p, funcs, { store: RedisStore.over(() => client), clearBatchSize: 7, ...quiet })
  );
  for (const cache of caches) {
    for (let i = 0; i < 30; i++) {
      await cache.setPromise(Promise.resolve({ id: `k${i}`, rev: 1 }), `k${i}`, 1);
    }
  }
  await client.set("unrelated", "1");
  if (perMaster) console.log(`keys per master before clearAll: ${(await perMaster()).join(", ")}`);
  for (const [index, cache] of caches.entries()) {
    const before = await dbSize();
    await cache.clearAll();
    assert.equal(await dbSize(), before - 30, `clearAll of '${prefixes[index]}'`);
    assert.equal(await client.exists(cache.keyFor("k0")), 0);
    for (const other of caches.slice(index + 1)) {
      assert.equal(await client.exists(other.keyFor("k0")), 1, `'${other.prefix}' was touched`);
    }
  }
  assert.equal(await client.get("unrelated"), "1");
}

Deno.test("clearAll() deletes only its own prefix, even with glob characters in prefixes", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  try {
    await clearAllDeletesOwnPrefix(client, () => client.dbSize());
  } finally {
    client.destroy();
  }
});

/** SCAN calls since the last `CONFIG RESETSTAT` (INFO commandstats). */
async function scanCalls(redis: TestRedis): Promise<number> {
  const stats = await redis.cli("INFO", "commandstats");
  return Number(stats.match(/cmdstat_scan:calls=(\d+)/)?.[1] ?? 0);
}

Deno.test("clearAll() on one node drains its key index without SCAN once the index is complete", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  try {
    const cache = new TimCacheC("idx", funcs, {
      store: RedisStore.over(() => client),
      clearBatchSize: 7,
      ...quiet,
    });
    const other = new TimCacheC("idx2", funcs, { store: RedisStore.over(() => client), ...quiet });
    const fill = async (n: number) => {
      for (let i = 0; i < n; i++) {
        await cache.setPromise(Promise.resolve({ id: `k${i}`, rev: 1 }), `k${i}`, 1);
      }
    };
    // Entries written before the index existed (an older release, or a flushed index).
    for (let i = 0; i < 20; i++) await client.set(cache.keyFor(`old${i}`), "{}");
    await fill(30);
    await other.setPromise(Promise.resolve({ id: "o", rev: 1 }), "o", 1);
    await redis.cli("CONFIG", "RESETSTAT");
    // The index lacks its completeness mark: this clear scans, and finds the old keys too.
    assert.deepEqual(await cache.clearAll(), { status: "cleared", deleted: 50 });
    assert.ok(await scanCalls(redis) > 0, "the first clear scans");
    assert.deepEqual(await client.keys("cache:idx:*"), []);

    await fill(30);
    await redis.cli("CONFIG", "RESETSTAT");
    assert.deepEqual(await cache.clearAll(), { status: "cleared", deleted: 30 });
    assert.equal(await scanCalls(redis), 0, "a clear with a complete index does not scan");
    assert.deepEqual(await client.keys("cache:idx:*"), []);
    assert.equal(await client.exists(other.keyFor("o")), 1, "another cache's key was touched");
    assert.equal(await client.exists("{cache:idx}:idx:draining"), 0, "the drained index is gone");
    assert.equal(await client.exists("{cache:idx}:idx:cursor"), 0, "its cursor too");

    // An index dropped and re-created by later writes (eviction, FLUSHDB of it) is not
    // trusted: the next clear scans and still deletes every key.
    await fill(10);
    await client.del("{cache:idx}:idx");
    await fill(5);
    await redis.cli("CONFIG", "RESETSTAT");
    assert.deepEqual(await cache.clearAll(), { status: "cleared", deleted: 10 });
    assert.ok(await scanCalls(redis) > 0);
    assert.deepEqual(await client.keys("cache:idx:*"), []);

    // A drain left unfinished (its process died) makes the next clear scan.
    await fill(10);
    await client.sAdd("{cache:idx}:idx:draining", "k0");
    await redis.cli("CONFIG", "RESETSTAT");
    assert.deepEqual(await cache.clearAll(), { status: "cleared", deleted: 10 });
    assert.ok(await scanCalls(redis) > 0);
    assert.deepEqual(await client.keys("cache:idx:*"), []);
    assert.equal(await client.exists("{cache:idx}:idx:draining"), 0);
  } finally {
    client.destroy();
  }
});

Deno.test("clearAll() of two instances at once deletes every key, whichever drains or scans", async () => {
  await using redis = await startRedis();
  const a = await connect(redis.url);
  const b = await connect(redis.url);
  try {
    const options = { clearBatchSize: 5, clearCommandUs: 1, ...quiet };
    const cacheA = new TimCacheC("twice", funcs, { store: RedisStore.over(() => a), ...options });
    const cacheB = new TimCacheC("twice", funcs, { store: RedisStore.over(() => b), ...options });
    await cacheA.setPromise(Promise.resolve({ id: "first", rev: 1 }), "first", 1);
    await cacheA.clearAll(); // scans, and makes the index complete
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 200; i++) {
        await cacheA.setPromise(Promise.resolve({ id: `k${i}`, rev: 1 }), `k${i}`, 1);
      }
      // B's start may drop the set A drains: A then scans; either way both end cleared.
      const results = await Promise.all([cacheA.clearAll(), cacheB.clearAll()]);
      assert.deepEqual(results.map((r) => r.status), ["cleared", "cleared"]);
      assert.deepEqual(await a.keys("cache:twice:*"), [], `round ${round}`);
    }
  } finally {
    a.destroy();
    b.destroy();
  }
});

Deno.test("clearAll() through the index fences a fill that started before it", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  try {
    const cache = new TimCacheC("idxfence", funcs, {
      store: RedisStore.over(() => client),
      ...quiet,
    });
    await cache.setPromise(Promise.resolve({ id: "a", rev: 1 }), "a", 1);
    await cache.clearAll(); // the first clear scans and makes the index complete
    await cache.setPromise(Promise.resolve({ id: "b", rev: 1 }), "b", 1);
    const release = deferred<void>();
    const filling = cache.getOrSet("c", 1, async () => {
      await release.promise;
      return { id: "c", rev: 1 };
    });
    await new Promise((r) => setTimeout(r, 50)); // the fill has taken its fence stamp
    await redis.cli("CONFIG", "RESETSTAT");
    assert.deepEqual(await cache.clearAll(), { status: "cleared", deleted: 1 });
    assert.equal(await scanCalls(redis), 0);
    release.resolve();
    await filling;
    assert.equal(await client.exists(cache.keyFor("c")), 0, "a fill from before the clear wrote");
    assert.equal(await client.exists(cache.keyFor("b")), 0);
  } finally {
    client.destroy();
  }
});

Deno.test("TimCacheC rejects a prefix that could overlap another's keys", () => {
  const store = RedisStore.disabled();
  assert.throws(() => new TimCacheC("po:items", funcs, { store }), TypeError);
  assert.throws(() => new TimCacheC("", funcs, { store }), TypeError);
  assert.throws(
    () => new TimCacheC("nostore", funcs, {} as unknown as { store: RedisStore }),
    TypeError,
  );
});

Deno.test("TimCacheC treats broken and foreign values as misses and removes them (defect 3)", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  try {
    const cache = new TimCacheC("broken", funcs, {
      store: RedisStore.over(() => client),
      ...quiet,
    });
    const cases: [string, () => Promise<unknown>][] = [
      ["truncated", () => client.set(cache.keyFor("truncated"), '{"versionHash":"1","data":{"id"')],
      ["not json", () => client.set(cache.keyFor("not json"), "hello")],
      ["no version", () => client.set(cache.keyFor("no version"), '{"data":1}')],
      ["array", () => client.set(cache.keyFor("array"), "[1,2]")],
      ["a hash", () => client.hSet(cache.keyFor("a hash"), "f", "v")],
    ];
    for (const [id, write] of cases) {
      await write();
      assert.equal(await cache.get(id, ANY_VERSION), undefined, id);
      await client.ping();
      assert.equal(await client.exists(cache.keyFor(id)), 0, `${id} was not removed`);
      const filled = await cache.getOrSet(id, 1, () => Promise.resolve({ id, rev: 1 }));
      assert.equal(filled.outcome, "miss");
      assert.deepEqual(await cache.get(id, 1), { id, rev: 1 });
    }
  } finally {
    client.destroy();
  }
});

Deno.test("RedisStore.connect() returns within its connect timeout when nothing listens", async () => {
  const started = performance.now();
  const store = await RedisStore.connect("redis://127.0.0.1:1", {
    connectTimeoutMs: 300,
    ...quiet,
  });
  const elapsed = performance.now() - started;
  try {
    assert.equal(store.status(), "down");
    assert.equal(store.client, undefined);
    assert.ok(elapsed < 3000, `RedisStore.connect took ${elapsed} ms`);
    const cache = new TimCacheC("down", funcs, { store, ...quiet });
    assert.equal(await cache.get("a", 1), undefined);
    const result = await cache.getOrSet("b", 1, () => Promise.resolve({ id: "b", rev: 1 }));
    assert.equal(result.outcome, "bypass");
    assert.deepEqual(result.value, { id: "b", rev: 1 });
    assert.equal((await flushAllServerCaches(store)).redis, "unavailable");
  } finally {
    await store.close();
  }
});

Deno.test("RedisStore.connect() of a Redis Cluster nobody answers returns within its connect timeout", async () => {
  const lines: string[] = [];
  const started = performance.now();
  const store = await RedisStore.connect(
    { clusterNodes: ["redis://127.0.0.1:1", "redis://127.0.0.1:2"] },
    { connectTimeoutMs: 300, maxReconnectDelayMs: 100, log: (line) => lines.push(line) },
  );
  const elapsed = performance.now() - started;
  try {
    assert.equal(store.status(), "down");
    assert.ok(elapsed < 3000, `RedisStore.connect took ${elapsed} ms`);
    const cache = new TimCacheC("clusterdown", funcs, { store, ...quiet });
    const result = await cache.getOrSet("b", 1, () => Promise.resolve({ id: "b", rev: 1 }));
    assert.equal(result.outcome, "bypass");
    assert.equal((await flushAllServerCaches(store)).redis, "unavailable");
    await new Promise((r) => setTimeout(r, 250)); // the topology read is retried meanwhile
    assert.equal(lines.filter((l) => l.includes('"redis_unavailable"')).length, 1, lines.join());
  } finally {
    await store.close(); // also stops the retries (the test's op sanitizer checks)
  }
});

Deno.test("RedisStore.connect() without a URL disables caching", async () => {
  const lines: string[] = [];
  const store = await RedisStore.connect("", { log: (l) => lines.push(l) });
  assert.equal(store.status(), "disabled");
  assert.match(lines.join("\n"), /redis_disabled/);
  const cache = new TimCacheC("off", funcs, { store, ...quiet });
  const result = await cache.getOrSet("a", 1, () => Promise.resolve({ id: "a", rev: 1 }));
  assert.equal(result.outcome, "bypass");
  assert.equal((await flushAllServerCaches(store)).redis, "disabled");
});

Deno.test("TimCacheC keeps answering while Redis is killed, and uses it again after restart", async () => {
  // appendfsync always: the write is on disk before its reply (with everysec, a busy disk can
  // postpone the AOF write past the SIGKILL below, and the test would be about the disk).
  await using redis = await startRedis({ appendonly: true, args: ["--appendfsync", "always"] });
  const store = await RedisStore.connect(redis.url, {
    commandTimeoutMs: 300,
    maxReconnectDelayMs: 100,
    ...quiet,
  });
  try {
    const cache = new TimCacheC("kill", funcs, { store, ...quiet });
    await cache.setPromise(Promise.resolve({ id: "a", rev: 1 }), "a", 1);
    await redis.kill();
    for (let i = 0; i < 5; i++) {
      const result = await cache.getOrSet("a", 1, () => Promise.resolve({ id: "a", rev: 1 }));
      assert.equal(result.outcome, "bypass");
    }
    await redis.restart();
    const deadline = Date.now() + 5000;
    while (!store.client && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(store.client, "the client did not reconnect within 5 s");
    // From the AOF. The first read may still find the breaker of the outage open (a bypass,
    // by design): the cache must be used again within the same 5 s.
    let value = await cache.get("a", 1);
    while (value === undefined && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      value = await cache.get("a", 1);
    }
    assert.deepEqual(value, { id: "a", rev: 1 });
  } finally {
    await store.close();
  }
});

Deno.test("TimCacheC turns a paused Redis into a bypass after the command timeout", async () => {
  await using redis = await startRedis();
  const store = await RedisStore.connect(redis.url, { commandTimeoutMs: 200, ...quiet });
  try {
    const cache = new TimCacheC("pause", funcs, { store, ...quiet });
    await redis.cli("CLIENT", "PAUSE", "1500", "ALL");
    const started = performance.now();
    const result = await cache.getOrSet("a", 1, () => Promise.resolve({ id: "a", rev: 1 }));
    const elapsed = performance.now() - started;
    assert.notEqual(result.outcome, "hit");
    assert.ok(elapsed < 1400, `waited ${elapsed} ms for a paused Redis`);
  } finally {
    await new Promise((r) => setTimeout(r, 1600)); // let the pause end before closing
    await store.close();
  }
});

Deno.test("flushAllServerCaches() empties Redis and stops in-flight writes", async () => {
  await using redis = await startRedis();
  const store = await RedisStore.connect(redis.url, quiet);
  try {
    const cache = new TimCacheC("flush", funcs, { store, ...quiet });
    await cache.setPromise(Promise.resolve({ id: "a", rev: 1 }), "a", 1);
    const slow = deferred<{ id: string; rev: number }>();
    const writing = cache.setPromise(slow.promise, "b", 1);
    const result = await flushAllServerCaches(store);
    assert.equal(result.redis, "flushed");
    slow.resolve({ id: "b", rev: 1 });
    await writing;
    const deadline = Date.now() + 2000; // FLUSHDB ASYNC frees in the background
    while (Number(await redis.cli("DBSIZE")) > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(await redis.cli("DBSIZE"), "0");
  } finally {
    await store.close();
  }
});

// The same operations on a Redis Cluster (3 masters, 3 replicas), started once for these tests.
const cluster = await startRedisCluster();
const sharded = await connectRedis(cluster.target, { l1: false, ...quiet });

Deno.test("clearAll() on a Redis Cluster scans every master and deletes only its own prefix", async () => {
  await clearAllDeletesOwnPrefix(
    sharded.client,
    () => cluster.dbSize(),
    () => cluster.onMasters("DBSIZE"),
  );
});

Deno.test("flushAllServerCaches() on a Redis Cluster flushes every master and stops in-flight writes", async () => {
  const store = RedisStore.over(sharded);
  const cache = new TimCacheC("clusterflush", funcs, { store, ...quiet });
  for (let i = 0; i < 30; i++) {
    await cache.setPromise(Promise.resolve({ id: `k${i}`, rev: 1 }), `k${i}`, 1);
  }
  const perMaster = await cluster.onMasters("DBSIZE");
  assert.ok(perMaster.every((n) => Number(n) > 0), `keys per master: ${perMaster.join(",")}`);
  const slow = deferred<{ id: string; rev: number }>();
  const writing = cache.setPromise(slow.promise, "late", 1);
  const result = await flushAllServerCaches(store);
  assert.deepEqual(result.redis, "flushed");
  slow.resolve({ id: "late", rev: 1 });
  await writing;
  // FLUSHDB ASYNC frees in the background. What may remain is the cache's generation key,
  // recreated by the late fill's fence (it started before the flush): never a data key.
  const dataKeys = async () =>
    (await cluster.onMasters("KEYS", "cache:*")).join("\n").split("\n").filter(Boolean);
  const deadline = Date.now() + 2000;
  while ((await dataKeys()).length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.deepEqual(await dataKeys(), []);
});

Deno.test("TimCacheC on a Redis Cluster: a paused master makes only its own slots bypass", async () => {
  const cache = new TimCacheC("pausedmaster", funcs, {
    store: RedisStore.over(() => sharded.client),
    commandTimeoutMs: 200,
    ...quiet,
  });
  // One key per master.
  const masters = await cluster.masters();
  const keyOf = new Map<number, string>();
  for (let i = 0; keyOf.size < masters.length; i++) {
    const master = await cluster.masterOf(cache.keyFor(`k${i}`));
    if (!keyOf.has(master.port)) keyOf.set(master.port, `k${i}`);
  }
  for (const id of keyOf.values()) await cache.setPromise(Promise.resolve({ id, rev: 1 }), id, 1);
  const [paused, ...others] = masters;
  const pausedKey = keyOf.get(paused.port)!;
  await paused.cli("CLIENT", "PAUSE", "1500", "ALL");
  try {
    const produce = (id: string) => () => Promise.resolve({ id, rev: 1 });
    const stalled = await cache.getOrSet(pausedKey, 1, produce(pausedKey));
    assert.notEqual(stalled.outcome, "hit"); // timed out: answered by the producer
    // Its breaker is open now: the same master is skipped at once, the others still hit.
    const skipped = await cache.getOrSet(pausedKey, 1, produce(pausedKey));
    assert.equal(skipped.outcome, "bypass");
    for (const master of others) {
      const id = keyOf.get(master.port)!;
      const result = await cache.getOrSet(id, 1, produce(id));
      assert.equal(result.outcome, "hit", `key on ${master.port}`);
    }
  } finally {
    await new Promise((r) => setTimeout(r, 1600)); // let the pause end
  }
});

Deno.test("TimCacheC cluster teardown", async () => {
  await sharded.close();
  await cluster.stop();
});

Deno.test("TimCacheC treats an entry copied under another key (same version) as broken", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  try {
    const cache = new TimCacheC("swap", funcs, { store: RedisStore.over(() => client), ...quiet });
    await cache.setPromise(Promise.resolve({ id: "a", rev: 1 }), "a", 1);
    await client.set(cache.keyFor("b"), (await client.get(cache.keyFor("a")))!); // a's entry under b
    assert.equal(await cache.get("b", 1), undefined);
    await client.ping();
    assert.equal(await client.exists(cache.keyFor("b")), 0, "the misplaced entry was not removed");
    await client.set(cache.keyFor("c"), (await client.get(cache.keyFor("a")))!);
    const [c] = await cache.getMany(
      [{ params: "c", version: 1 }],
      (id) => Promise.resolve({ id, rev: 1 }),
    );
    assert.deepEqual(c.value, { id: "c", rev: 1 }); // recomputed, not a's data
    assert.equal(c.outcome, "miss");
  } finally {
    client.destroy();
  }
});
