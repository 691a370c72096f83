/**
 * Issue 13: one test per defect the adversarial review of the cache core reproduced (at
 * 91302ae), each against a real redis-server started for this file (and TimCacheB where the
 * defect was in the shared in-process half). Each of these failed before the fix.
 *
 * Run with `--v8-flags=--expose-gc` (the test task does) for the memory checks.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { deflateRawSync } from "node:zlib";
import { checkFillPolicy, type FillPolicy } from "./fill_policy.ts";
import { ImmutableCache } from "./immutable_cache.ts";
import { connectRedis } from "./redis.ts";
import { StaleWhileRevalidate } from "./stale_while_revalidate.ts";
import { TimCacheB } from "./tim_cache_b.ts";
import { TimCacheC, type TimCacheCOptions } from "./tim_cache_c.ts";
import { ANY_VERSION, type HashFuncs, type TimCache } from "./types.ts";
import { deferred, delay } from "./testing/deferred.ts";
import { collectable } from "./testing/memory.ts";
import { startRedis } from "./testing/redis_server.ts";
import { RedisStore } from "./redis_store.ts";

interface Value {
  id: string;
  rev: number;
  payload?: unknown;
  ok?: boolean;
}

const funcs: HashFuncs<string, number, Value> = {
  uniquenessHashFromParams: (id) => id,
  versionHashFromParams: (rev) => `r${rev}`,
  parseData: (d) => ({
    shouldStore: d.ok !== false,
    uniquenessHash: d.id,
    versionHash: `r${d.rev}`,
  }),
};

const redis = await startRedis();
const connection = await connectRedis(redis.url, { log: () => {} });
const plain = await connectRedis(redis.url, { log: () => {}, l1: false });
let serial = 0;

/** A TimCacheC on this file's Redis; `extra` may hold options this file's tests add. */
function cacheC(extra: Record<string, unknown> = {}, prefix = `defect${serial++}`) {
  return new TimCacheC<string, number, Value>(prefix, funcs, {
    store: RedisStore.over(() => plain.ready()),
    l1: false,
    log: () => {},
    ...extra,
  } as TimCacheCOptions<Value>);
}

/** Rejects if `promise` has not settled within `ms` (so a defect shows as a failure, not a hang). */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const FLEET: FillPolicy = { leaseMs: 3000, waitMs: 2000, pollMinMs: 5, pollMaxMs: 50 };

for (
  const [name, make] of [
    ["TimCacheB", () => new TimCacheB<string, number, Value>(funcs, { missLeaseMs: 2000 })],
    ["TimCacheC", () => cacheC({ missLeaseMs: 2000 })],
  ] as [string, () => TimCache<string, number, Value>][]
) {
  Deno.test(`defect 1 (${name}): get() miss then setPromise() leaves nothing reachable`, async () => {
    const cache = make();
    const refs: WeakRef<object>[] = [];
    for (let i = 0; i < 2000; i++) {
      const id = `k${i % 50}`;
      assert.equal(await cache.get(id, i), undefined);
      const computed = { id, rev: i, payload: new Array(16).fill(i) };
      refs.push(new WeakRef(computed));
      if (i % 7 === 0) {
        await cache.setPromise(Promise.reject(new Error(`fail ${i}`)), id, i).catch(() => {});
      } else await cache.setPromise(Promise.resolve(computed), id, i);
    }
    await cache.clearAll();
    assert.equal((cache as unknown as { inFlightCount: number }).inFlightCount, 0);
    // Only the last value per key may stay reachable through the store (TimCacheB); after
    // clearAll nothing is.
    assert.equal(await collectable(refs), refs.length);
  });

  Deno.test(`defect 3 (${name}): a value JSON cannot encode is handed out and never kept in flight`, async () => {
    const cache = make();
    const cyclic: Value & { self?: unknown } = { id: "c", rev: 1 };
    cyclic.self = cyclic;
    const big = { id: "b", rev: 1, payload: 10n };
    assert.equal(await cache.setPromise(Promise.resolve(cyclic), "c", 1), cyclic);
    assert.equal(await cache.setPromise(Promise.resolve(big), "b", 1), big);
    const result = await cache.getOrSet("b2", 1, () => Promise.resolve({ ...big, id: "b2" }));
    assert.equal(result.value.payload, 10n);
    assert.equal((cache as unknown as { inFlightCount: number }).inFlightCount, 0);
    await cache.clearAll();
    if (cache instanceof TimCacheC) {
      // Nothing unencodable can be stored in Redis: every read after it is a miss.
      assert.equal(await cache.get("b", ANY_VERSION), undefined);
      assert.equal(await cache.get("c", ANY_VERSION), undefined);
    }
  });

  Deno.test(`defect 4 (${name}): a caller after clear() starts a new flight`, async () => {
    const cache = make();
    const before = deferred<Value>();
    const first = cache.getOrSet("a", 1, () => before.promise);
    await delay(5);
    await cache.clear("a");
    let ran = false;
    const second = cache.getOrSet("a", 1, () => {
      ran = true;
      return Promise.resolve({ id: "a", rev: 1, payload: "after" });
    });
    before.resolve({ id: "a", rev: 1, payload: "before" });
    assert.equal((await first).value.payload, "before");
    const after = await second;
    assert.ok(ran, "the post-clear caller's producer must run");
    assert.equal(after.value.payload, "after");
    await cache.clearAll();
  });

  Deno.test(`defect 7 (${name}): getOrSet() after a plain get() miss does not wait for the lease`, async () => {
    const cache = name === "TimCacheB"
      ? new TimCacheB<string, number, Value>(funcs, { missLeaseMs: 60_000 })
      : cacheC({ missLeaseMs: 60_000 });
    assert.equal(await cache.get("g", 1), undefined); // takes a 60 s miss lease
    let ran = false;
    const result = cache.getOrSet("g", 1, () => {
      ran = true;
      return Promise.resolve({ id: "g", rev: 1 });
    });
    await delay(300);
    assert.ok(ran, "getOrSet() must take the lease over, not wait for it");
    assert.equal((await result).outcome, "miss");
    // The lease's own holder still sets its value; that ends the lease.
    await cache.setPromise(Promise.resolve({ id: "g", rev: 1 }), "g", 1);
    assert.equal((cache as unknown as { inFlightCount: number }).inFlightCount, 0);
  });

  Deno.test(`defect 8 (${name}): a producer that never settles times out, and clear() releases its waiters`, async () => {
    const timed = name === "TimCacheB"
      ? new TimCacheB<string, number, Value>(funcs, { producerTimeoutMs: 100 } as never)
      : cacheC({ producerTimeoutMs: 100 });
    const never = new Promise<Value>(() => {});
    await assert.rejects(within(3000, timed.getOrSet("h", 1, () => never)), {
      code: "PRODUCER_TIMEOUT",
    });
    assert.equal((timed as unknown as { inFlightCount: number }).inFlightCount, 0);

    const cache = make();
    const stuck = cache.getOrSet("s", 1, () => never);
    const waiter = cache.getOrSet("s", 1, () => Promise.resolve({ id: "s", rev: 1 }));
    await delay(5);
    await cache.clear("s");
    const released = await within(3000, waiter); // retried: ran its own producer
    assert.equal(released.outcome, "miss");
    stuck.catch(() => {});
  });

  Deno.test(`defect 9 (${name}): 40 callers alternating versions run the producer once per version`, async () => {
    const cache = make();
    let runs = 0;
    const gate = deferred<void>();
    const calls = Array.from({ length: 40 }, (_, i) => {
      const rev = i % 2 + 1;
      return cache.getOrSet("v", rev, async () => {
        runs++;
        await gate.promise;
        return { id: "v", rev };
      });
    });
    await delay(10);
    gate.resolve();
    const results = await Promise.all(calls);
    assert.equal(runs, 2);
    for (const [i, r] of results.entries()) assert.equal(r.value.rev, i % 2 + 1);
  });

  Deno.test(`defect 9 (${name}): a waiter never receives data parseData says is another version`, async () => {
    const cache = make();
    const gate = deferred<void>();
    const owner = cache.getOrSet("w", 1, async () => {
      await gate.promise;
      return { id: "w", rev: 2 }; // the producer read a newer version than it was asked for
    });
    const waiter = cache.getOrSet("w", 1, () => Promise.resolve({ id: "w", rev: 1 }));
    await delay(5);
    gate.resolve();
    assert.equal((await owner).value.rev, 2); // the owner gets its own producer's value
    assert.equal((await waiter).value.rev, 1);
  });
}

Deno.test("defect 2: a fleet leader whose producer throws runs it once and fails every caller", async () => {
  const prefix = `defect${serial++}`;
  const leader = cacheC({ fill: FLEET }, prefix);
  const follower = cacheC({ fill: FLEET }, prefix);
  let runs = 0;
  const gate = deferred<void>();
  const producer = async () => {
    runs++;
    await gate.promise;
    throw new Error("database down");
  };
  const first = leader.getOrSet("x", 1, producer);
  // The leader holds the lock once its producer runs (a fixed delay was too short under load:
  // the follower then took the lock first and both ran).
  for (let i = 0; i < 500 && runs === 0; i++) await delay(5);
  const second = follower.getOrSet("x", 1, producer);
  await delay(20);
  gate.resolve();
  await assert.rejects(first, /database down/);
  await assert.rejects(second, /database down/);
  assert.equal(runs, 1);
});

Deno.test("defect 5: a clear in one process stops a fill that started earlier in another", async () => {
  for (const fill of [FLEET, undefined]) {
    const prefix = `defect${serial++}`;
    const filling = cacheC({ fill }, prefix);
    const clearing = cacheC({}, prefix);
    const gate = deferred<Value>();
    const started = filling.getOrSet("f", 1, () => gate.promise);
    await delay(30);
    await clearing.clear("f");
    gate.resolve({ id: "f", rev: 1, payload: "computed before the clear" });
    await started;
    assert.equal(await plain.client.get(clearing.keyFor("f")), null, `fill ${!!fill}`);
    const allGate = deferred<Value>();
    const startedAll = filling.getOrSet("g", 1, () => allGate.promise);
    await delay(30);
    await clearing.clearAll();
    allGate.resolve({ id: "g", rev: 1 });
    await startedAll;
    assert.equal(await plain.client.get(clearing.keyFor("g")), null, `clearAll, fill ${!!fill}`);
  }
});

Deno.test("defect 6: a clear while Redis is unreachable is reported, retried, and never undone", async () => {
  await using own = await startRedis();
  const conn = await connectRedis(own.url, { log: () => {}, l1: false });
  try {
    const cache = new TimCacheC<string, number, Value>(`defect${serial++}`, funcs, {
      store: RedisStore.over(() => conn.ready()),
      l1: false,
      log: () => {},
      commandTimeoutMs: 50,
      breakerMs: 300,
    });
    await cache.setPromise(Promise.resolve({ id: "a", rev: 1 }), "a", 1);
    await own.cli("CLIENT", "PAUSE", "400", "ALL");
    assert.equal(await cache.get("b", 1), undefined); // times out: the breaker opens
    const result = await cache.clear("a") as unknown as { status?: string } | undefined;
    assert.equal(result?.status, "pending");
    await delay(900); // the pause and the breaker are over
    assert.equal(await cache.get("a", 1), undefined, "the cleared entry must not come back");
    for (let i = 0; i < 50 && (await conn.client.exists(cache.keyFor("a"))) === 1; i++) {
      await delay(50);
    }
    assert.equal(await conn.client.exists(cache.keyFor("a")), 0, "the clear was retried");
  } finally {
    await conn.close();
  }
});

Deno.test("defect 10: the memo's cold-fill lock is released when the fill fails", async () => {
  const tenant = `defect${serial++}`;
  const fill = { leaseMs: 60_000, waitMs: 30_000, pollMinMs: 5, pollMaxMs: 50 };
  const a = new StaleWhileRevalidate({
    tenant,
    store: RedisStore.over(() => plain.ready()),
    l1: false,
    fill,
  });
  const b = new StaleWhileRevalidate({
    tenant,
    store: RedisStore.over(() => plain.ready()),
    l1: false,
    fill,
  });
  await assert.rejects(a.memo("k", 60_000, () => Promise.reject(new Error("boom"))), /boom/);
  let ran = false;
  const next = b.memo("k", 60_000, () => {
    ran = true;
    return Promise.resolve(1);
  });
  await delay(500);
  assert.ok(ran, "the next caller must not wait for a failed fill's lock");
  assert.equal((await next).value, 1);
});

Deno.test("defect 11: a rewritten entry gets the read refresh on its next hit", async () => {
  const cache = cacheC({ minWriteTtlS: 100, maxWriteTtlS: 100, readRefreshTtlS: 5000 });
  await cache.setPromise(Promise.resolve({ id: "t", rev: 1 }), "t", 1);
  assert.ok(await cache.get("t", 1));
  await plain.client.ping();
  assert.ok(await plain.client.ttl(cache.keyFor("t")) > 100);
  await cache.setPromise(Promise.resolve({ id: "t", rev: 2 }), "t", 2); // TTL 100 again
  assert.ok(await cache.get("t", 2));
  await plain.client.ping();
  assert.ok(await plain.client.ttl(cache.keyFor("t")) > 100, "the rewrite's hit must refresh");
});

Deno.test("defect 11: a memo value from a later window (clock skew) is fresh, not stale", async () => {
  const tenant = `defect${serial++}`;
  const ahead = new StaleWhileRevalidate({
    tenant,
    store: RedisStore.over(() => plain.ready()),
    l1: false,
    clock: () => 10 * 60_000 + 5,
  });
  const behind = new StaleWhileRevalidate({
    tenant,
    store: RedisStore.over(() => plain.ready()),
    l1: false,
    clock: () => 9 * 60_000 + 5,
  });
  await ahead.memo("k", 60_000, () => Promise.resolve("ahead"));
  let ran = false;
  const result = await behind.memo("k", 60_000, () => {
    ran = true;
    return Promise.resolve("behind");
  });
  await behind.settled();
  assert.equal(result.state, "fresh");
  assert.equal(ran, false);
});

Deno.test("defect 11: checkFillPolicy() rejects polls slower than the leader's heartbeat", () => {
  assert.throws(
    () => checkFillPolicy("x", { leaseMs: 3000, waitMs: 2000, pollMinMs: 10, pollMaxMs: 1900 }),
    RangeError,
  );
});

Deno.test("defect 11: a version-B caller does not fail because a version-A fill failed", async () => {
  const prefix = `defect${serial++}`;
  const a = cacheC({ fill: FLEET }, prefix);
  const b = cacheC({ fill: FLEET }, prefix);
  const gate = deferred<void>();
  const failing = a.getOrSet("m", 1, async () => {
    await gate.promise;
    throw new Error("version A failed");
  });
  await delay(20);
  const other = b.getOrSet("m", 2, () => Promise.resolve({ id: "m", rev: 2 }));
  await delay(20);
  gate.resolve();
  await assert.rejects(failing, /version A failed/);
  assert.equal((await other).value.rev, 2);
});

Deno.test("defect 11: an unstorable value does not make followers take over one after another", async () => {
  const prefix = `defect${serial++}`;
  const caches = Array.from({ length: 4 }, () => cacheC({ fill: FLEET }, prefix));
  const runs: { start: number; end: number }[] = [];
  const results = await Promise.all(caches.map((cache) =>
    cache.getOrSet("u", 1, async () => {
      const run = { start: performance.now(), end: 0 };
      runs.push(run);
      await delay(200);
      run.end = performance.now();
      return { id: "u", rev: 1, ok: false }; // parseData: not to be stored
    })
  ));
  for (const r of results) assert.equal(r.value.id, "u");
  // The leader's value cannot be shared through Redis: its followers compute at once, in
  // parallel, instead of taking the lock over one after another.
  const followers = runs.slice(1);
  const overlapping = followers.some((r, i) =>
    followers.some((s, j) => i !== j && r.start < s.end && s.start < r.end)
  );
  assert.ok(overlapping || followers.length === 0, JSON.stringify(runs));
});

Deno.test("defect 11: L1 hits do not hand callers one shared mutable object", async () => {
  const cache = new TimCacheC<string, number, Value>(`defect${serial++}`, funcs, {
    store: RedisStore.over(() => connection.ready()),
    l1: connection.l1 ?? false,
    log: () => {},
  });
  await cache.setPromise(Promise.resolve({ id: "l", rev: 1, payload: { n: 1 } }), "l", 1);
  const first = await cache.get("l", 1);
  const second = await cache.get("l", 1); // from the L1
  try {
    (first!.payload as { n: number }).n = 99;
  } catch { /* frozen: fine */ }
  assert.deepEqual(second!.payload, { n: 1 });
  assert.deepEqual((await cache.get("l", 1))!.payload, { n: 1 });
});

Deno.test("defect 11: a compressed entry that inflates past maxValueBytes is a miss", async () => {
  const cache = cacheC({ maxValueBytes: 1024 * 1024 });
  const json = JSON.stringify({
    versionHash: "r1",
    data: { id: "z", rev: 1, payload: "0".repeat(20 * 1024 * 1024) },
  });
  const bomb = "z1:" + deflateRawSync(Buffer.from(json)).toString("base64");
  assert.ok(bomb.length < 100_000);
  await plain.client.set(cache.keyFor("z"), bomb);
  assert.equal(await cache.get("z", 1), undefined);
});

Deno.test("defect 11: ImmutableCache('x') owns prefix 'x' only", async () => {
  const prefix = `defect${serial++}`;
  const records = new ImmutableCache<string>(prefix, {
    store: RedisStore.over(() => plain.ready()),
    l1: false,
  });
  await records.markExists("1");
  const neighbour = cacheC({}, `${prefix}_exists`);
  await neighbour.clearAll();
  assert.equal(await records.exists("1", () => Promise.resolve(false)), true);
});

Deno.test({
  name: "core defects teardown",
  fn: async () => {
    await connection.close();
    await plain.close();
    await redis.stop();
  },
});
