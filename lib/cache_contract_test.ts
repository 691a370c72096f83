/**
 * The cache contract: one suite run against TimCacheB (memory), TimCacheC on one real
 * redis-server, and TimCacheC on a real Redis Cluster (3 masters, 3 replicas), each started
 * once for this file. Both TimCacheC runs go through an L1 kept coherent by client tracking.
 */
import assert from "node:assert/strict";
import { connectRedis, type RedisConnection } from "./redis.ts";
import { TimCacheB } from "./tim_cache_b.ts";
import { TimCacheC } from "./tim_cache_c.ts";
import { ANY_VERSION, type HashFuncs, type TimCache } from "./types.ts";
import { deferred } from "./testing/deferred.ts";
import { startRedis } from "./testing/redis_server.ts";
import { startRedisCluster } from "./testing/redis_cluster.ts";
import { RedisStore } from "./redis_store.ts";

interface Params {
  id: string;
}
interface Version {
  rev: number;
}
interface Value {
  id: string;
  rev: number;
  payload: string;
  ok?: boolean;
}

const funcs: HashFuncs<Params, Version, Value> = {
  uniquenessHashFromParams: (p) => p.id,
  versionHashFromParams: (v) => `r${v.rev}`,
  parseData: (d) => ({
    shouldStore: d.ok !== false,
    uniquenessHash: d.id,
    versionHash: `r${d.rev}`,
  }),
};

const value = (id: string, rev: number, payload = "x"): Value => ({ id, rev, payload });

type Factory = () => TimCache<Params, Version, Value>;

let counter = 0;
const makeB: Factory = () => new TimCacheB(funcs, { missLeaseMs: 300 });
const makeC = (redis: RedisConnection): Factory => () =>
  new TimCacheC(`contract${counter++}`, funcs, {
    missLeaseMs: 300,
    store: RedisStore.over(() => redis.ready()),
    l1: redis.l1 ?? false,
    log: () => {},
  });

function contract(name: string, make: Factory) {
  Deno.test(`${name}: get() misses, getOrSet() fills, then get() hits`, async () => {
    const cache = make();
    const a = await cache.getOrSet({ id: "a" }, { rev: 1 }, () => Promise.resolve(value("a", 1)));
    assert.equal(a.outcome, "miss");
    assert.deepEqual(await cache.get({ id: "a" }, { rev: 1 }), value("a", 1));
    const again = await cache.getOrSet({ id: "a" }, { rev: 1 }, () => {
      throw new Error("producer must not run on a hit");
    });
    assert.equal(again.outcome, "hit");
  });

  Deno.test(`${name}: get() treats a version mismatch as a miss`, async () => {
    const cache = make();
    await cache.setPromise(Promise.resolve(value("a", 1)), { id: "a" }, { rev: 1 });
    assert.equal(await cache.get({ id: "a" }, { rev: 2 }), undefined);
    await cache.setPromise(Promise.resolve(value("a", 2)), { id: "a" }, { rev: 2 });
    assert.deepEqual(await cache.get({ id: "a" }, { rev: 2 }), value("a", 2));
  });

  Deno.test(`${name}: get() with "any_version" returns whatever version is stored`, async () => {
    const cache = make();
    assert.equal(await cache.get({ id: "a" }, ANY_VERSION), undefined);
    await cache.setPromise(Promise.resolve(value("a", 7)), { id: "a" }, { rev: 7 });
    assert.deepEqual(await cache.get({ id: "a" }, ANY_VERSION), value("a", 7));
  });

  Deno.test(`${name}: get() returns an in-flight promise of the same or any version first`, async () => {
    const cache = make();
    const slow = deferred<Value>();
    const writing = cache.setPromise(slow.promise, { id: "a" }, { rev: 1 });
    const same = cache.get({ id: "a" }, { rev: 1 });
    const any = cache.get({ id: "a" }, ANY_VERSION);
    const other = await cache.get({ id: "a" }, { rev: 2 }); // does not wait for rev 1
    assert.equal(other, undefined);
    slow.resolve(value("a", 1));
    assert.deepEqual(await same, value("a", 1));
    assert.deepEqual(await any, value("a", 1));
    await writing;
  });

  Deno.test(`${name}: setPromise() does not store what parseData refuses`, async () => {
    const cache = make();
    await cache.setPromise(Promise.resolve({ ...value("a", 1), ok: false }), { id: "a" }, {
      rev: 1,
    });
    assert.equal(await cache.get({ id: "a" }, ANY_VERSION), undefined);
    // A value computed for another version than the one it is set as is not stored either.
    await cache.setPromise(Promise.resolve(value("a", 2)), { id: "a" }, { rev: 1 });
    assert.equal(await cache.get({ id: "a" }, ANY_VERSION), undefined);
  });

  Deno.test(`${name}: getOrSet() runs the producer once for 100 concurrent cold callers`, async () => {
    const cache = make();
    let runs = 0;
    const gate = deferred<void>();
    const producer = async () => {
      runs++;
      await gate.promise;
      return value("cold", 1, "computed");
    };
    const calls = Array.from(
      { length: 100 },
      () => cache.getOrSet({ id: "cold" }, { rev: 1 }, producer),
    );
    setTimeout(() => gate.resolve(), 20);
    const results = await Promise.all(calls);
    assert.equal(runs, 1);
    assert.equal(results.filter((r) => r.outcome === "miss").length, 1);
    assert.equal(results.filter((r) => r.outcome === "hit").length, 99);
    for (const r of results) assert.deepEqual(r.value, value("cold", 1, "computed"));
  });

  Deno.test(`${name}: get() then setPromise() computes once for 50 concurrent cold callers (miss lease)`, async () => {
    const cache = make();
    let runs = 0;
    const caller = async () => {
      const hit = await cache.get({ id: "lease" }, { rev: 1 });
      if (hit) return hit;
      runs++;
      return await cache.setPromise(
        new Promise<Value>((r) => setTimeout(() => r(value("lease", 1)), 20)),
        { id: "lease" },
        { rev: 1 },
      );
    };
    const results = await Promise.all(Array.from({ length: 50 }, caller));
    assert.equal(runs, 1);
    for (const r of results) assert.deepEqual(r, value("lease", 1));
  });

  Deno.test(`${name}: a miss lease not followed by setPromise() is released to one waiter`, async () => {
    const cache = make();
    assert.equal(await cache.get({ id: "abandoned" }, { rev: 1 }), undefined); // holder gives up
    const waiters = Array.from({ length: 5 }, () => cache.get({ id: "abandoned" }, { rev: 1 }));
    // After the lease (300 ms) one waiter becomes the next holder (undefined); it sets a value.
    const first = await Promise.race(waiters.map((w, i) => w.then((v) => ({ v, i }))));
    assert.equal(first.v, undefined);
    await cache.setPromise(Promise.resolve(value("abandoned", 1)), { id: "abandoned" }, { rev: 1 });
    const rest = await Promise.all(waiters.filter((_, i) => i !== first.i));
    for (const r of rest) assert.deepEqual(r, value("abandoned", 1));
  });

  Deno.test(`${name}: getOrSet() joiners get the producer's error and nothing is cached`, async () => {
    const cache = make();
    let runs = 0;
    const producer = async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 10));
      throw new Error("database down");
    };
    const calls = Array.from(
      { length: 10 },
      () => cache.getOrSet({ id: "e" }, { rev: 1 }, producer),
    );
    const settled = await Promise.allSettled(calls);
    assert.equal(runs, 1);
    for (const s of settled) {
      assert.equal(s.status, "rejected");
      assert.equal((s as PromiseRejectedResult).reason.message, "database down");
    }
    const later = await cache.getOrSet(
      { id: "e" },
      { rev: 1 },
      () => Promise.resolve(value("e", 1)),
    );
    assert.equal(later.outcome, "miss");
  });

  Deno.test(`${name}: an older in-flight promise finishing keeps the newer one's entry (defect 1)`, async () => {
    const cache = make();
    const older = deferred<Value>();
    const newer = deferred<Value>();
    const w1 = cache.setPromise(older.promise, { id: "a" }, { rev: 1 });
    const w2 = cache.setPromise(newer.promise, { id: "a" }, { rev: 2 });
    older.resolve(value("a", 1));
    await w1;
    // The rev-2 flight must still be registered: this get waits for it instead of missing.
    const reading = cache.get({ id: "a" }, { rev: 2 });
    newer.resolve(value("a", 2));
    assert.deepEqual(await reading, value("a", 2));
    await w2;
  });

  Deno.test(`${name}: clear() racing an in-flight write does not let it resurrect the entry (defect 2)`, async () => {
    const cache = make();
    const slow = deferred<Value>();
    const writing = cache.setPromise(slow.promise, { id: "a" }, { rev: 1 });
    await cache.clear({ id: "a" });
    slow.resolve(value("a", 1));
    assert.deepEqual(await writing, value("a", 1)); // its caller still gets the value
    assert.equal(await cache.get({ id: "a" }, ANY_VERSION), undefined);
  });

  Deno.test(`${name}: clearAll() racing an in-flight write does not let it resurrect the entry`, async () => {
    const cache = make();
    await cache.setPromise(Promise.resolve(value("b", 1)), { id: "b" }, { rev: 1 });
    const slow = deferred<Value>();
    const writing = cache.setPromise(slow.promise, { id: "a" }, { rev: 1 });
    await cache.clearAll();
    slow.resolve(value("a", 1));
    await writing;
    assert.equal(await cache.get({ id: "a" }, ANY_VERSION), undefined);
    assert.equal(await cache.get({ id: "b" }, ANY_VERSION), undefined);
  });

  Deno.test(`${name}: a fill of one version does not answer the callers waiting on another version's lease`, async () => {
    const cache = make();
    // Caller A missed for any version, caller B for version 2: each holds a lease.
    assert.equal(await cache.get({ id: "a" }, ANY_VERSION), undefined);
    assert.equal(await cache.get({ id: "a" }, { rev: 2 }), undefined);
    const waiting = cache.get({ id: "a" }, { rev: 2 }); // joins B's lease
    await cache.setPromise(Promise.resolve(value("a", 1)), { id: "a" }, { rev: 1 }); // A's
    await cache.setPromise(Promise.resolve(value("a", 2)), { id: "a" }, { rev: 2 }); // B's
    assert.deepEqual(await waiting, value("a", 2));
  });

  Deno.test(`${name}: clear() removes every version of one entry only`, async () => {
    const cache = make();
    await cache.setPromise(Promise.resolve(value("a", 1)), { id: "a" }, { rev: 1 });
    await cache.setPromise(Promise.resolve(value("b", 1)), { id: "b" }, { rev: 1 });
    await cache.clear({ id: "a" });
    assert.equal(await cache.get({ id: "a" }, ANY_VERSION), undefined);
    assert.deepEqual(await cache.get({ id: "b" }, { rev: 1 }), value("b", 1));
  });
}

contract("TimCacheB", makeB);

// TimCacheC runs against its own redis-server, and its own cluster, for this file.
const redis = await startRedis();
const single = await connectRedis(redis.url, { log: () => {} });
contract("TimCacheC", makeC(single));

const cluster = await startRedisCluster();
const sharded = await connectRedis(cluster.target, { log: () => {} });
contract("TimCacheC on a Redis Cluster", makeC(sharded));

Deno.test("TimCacheC on a Redis Cluster: the contract's keys were spread over every master", async () => {
  const perMaster = await cluster.onMasters("DBSIZE");
  console.log(`keys per master after the contract: ${perMaster.join(", ")}`);
  assert.equal(perMaster.length, 3);
  for (const keys of perMaster) assert.ok(Number(keys) > 0, perMaster.join(","));
});

Deno.test({
  name: "TimCacheC contract teardown",
  fn: async () => {
    await single.close();
    await redis.stop();
    await sharded.close();
    await cluster.stop();
  },
});
