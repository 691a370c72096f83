/**
 * StaleWhileRevalidate with a fake clock (injected, no sleeps for windows), run against a
 * real redis-server (through an L1), a real Redis Cluster (through an L1; started once for
 * this file) and the in-memory fallback.
 */
import assert from "node:assert/strict";
import { createClient } from "redis";
import { L1Cache } from "./l1.ts";
import { connectRedis, type RedisClient } from "./redis.ts";
import { StaleWhileRevalidate, type SwrOptions } from "./stale_while_revalidate.ts";
import { deferred } from "./testing/deferred.ts";
import { startRedis } from "./testing/redis_server.ts";
import { startRedisCluster } from "./testing/redis_cluster.ts";
import { RedisStore } from "./redis_store.ts";

const WINDOW = 60_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % WINDOW) + 1_000; // 1 s into a window

interface Harness {
  make(tenant: string, clock: () => number, log?: (line: string) => void): StaleWhileRevalidate;
}

function suite(name: string, harness: () => Promise<Harness & AsyncDisposable>) {
  Deno.test(`${name}: a value is fresh within its window (one producer run)`, async () => {
    await using h = await harness();
    let now = T0;
    const swr = h.make("t1", () => now);
    let runs = 0;
    const producer = () => Promise.resolve({ run: ++runs });
    const first = await swr.memo("k", WINDOW, producer);
    assert.equal(first.state, "computed");
    assert.equal(first.nextBoundaryMs, T0 - 1_000 + WINDOW);
    now += WINDOW - 2_000; // still the same window
    const second = await swr.memo("k", WINDOW, producer);
    assert.equal(second.state, "fresh");
    assert.deepEqual(second.value, { run: 1 });
    assert.equal(runs, 1);
  });

  Deno.test(`${name}: after the boundary the stale value is served at once while one refresh runs`, async () => {
    await using h = await harness();
    let now = T0;
    const swr = h.make("t1", () => now);
    let runs = 0;
    let gate = Promise.resolve();
    const producer = async () => {
      const run = ++runs;
      await gate;
      return { run };
    };
    await swr.memo("k", WINDOW, producer);
    now += WINDOW; // the window turns
    const slow = deferred<void>();
    gate = slow.promise;
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => swr.memo("k", WINDOW, producer)),
    );
    // Every call answered with the old value before the refresh could finish: nobody
    // waited for it. The one refresh is now running (blocked on the gate).
    for (const answer of answers) {
      assert.equal(answer.state, "stale");
      assert.deepEqual(answer.value, { run: 1 });
    }
    for (let i = 0; i < 200 && runs < 2; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(runs, 2);
    slow.resolve();
    await swr.settled();
    const after = await swr.memo("k", WINDOW, producer);
    assert.equal(after.state, "fresh");
    assert.deepEqual(after.value, { run: 2 });
    assert.equal(runs, 2);
  });

  Deno.test(`${name}: a throwing producer keeps the last good value, and the failure is logged`, async () => {
    await using h = await harness();
    let now = T0;
    const lines: string[] = [];
    const swr = h.make("t1", () => now, (line) => lines.push(line));
    await swr.memo("k", WINDOW, () => Promise.resolve("good"));
    now += WINDOW;
    const failing = () => Promise.reject(new Error("postgres is down"));
    const stale = await swr.memo("k", WINDOW, failing);
    assert.equal(stale.value, "good");
    await swr.settled();
    assert.ok(
      lines.some((l) => l.includes("swr_refresh_failed") && l.includes("postgres is down")),
    );
    now += 10 * WINDOW; // many windows later, still failing: still the last good value
    assert.equal((await swr.memo("k", WINDOW, failing)).value, "good");
    await swr.settled();
  });

  Deno.test(`${name}: a cold key with a throwing producer throws (nothing to serve)`, async () => {
    await using h = await harness();
    const swr = h.make("t1", () => T0);
    await assert.rejects(
      () => swr.memo("cold", WINDOW, () => Promise.reject(new Error("boom"))),
      /boom/,
    );
  });

  Deno.test(`${name}: two tenants never read each other's values`, async () => {
    await using h = await harness();
    const a = h.make("kano", () => T0);
    const b = h.make("lagos", () => T0);
    await a.memo("overview", WINDOW, () => Promise.resolve("kano data"));
    const fromB = await b.memo("overview", WINDOW, () => Promise.resolve("lagos data"));
    assert.equal(fromB.value, "lagos data");
    assert.equal((await a.memo("overview", WINDOW, () => Promise.resolve("x"))).value, "kano data");
  });

  Deno.test(`${name}: invalidate() keeps the value but makes it stale`, async () => {
    await using h = await harness();
    const swr = h.make("t1", () => T0);
    let runs = 0;
    const producer = () => Promise.resolve(++runs);
    await swr.memo("k", WINDOW, producer);
    await swr.invalidate("k");
    const stale = await swr.memo("k", WINDOW, producer);
    assert.equal(stale.state, "stale");
    assert.equal(stale.value, 1);
    await swr.settled();
    assert.equal((await swr.memo("k", WINDOW, producer)).value, 2);
  });
}

suite("memo on Redis (with L1)", async () => {
  const redis = await startRedis();
  const client = createClient({
    url: redis.url,
    RESP: 3,
    emitInvalidate: true,
  }) as unknown as RedisClient;
  const l1 = new L1Cache();
  l1.bind(client as never);
  await client.connect();
  return {
    make: (tenant, clock, log) =>
      new StaleWhileRevalidate(
        {
          tenant,
          clock,
          store: RedisStore.over(() => client),
          l1,
          log: log ?? (() => {}),
        } as SwrOptions,
      ),
    async [Symbol.asyncDispose]() {
      client.destroy();
      await redis.stop();
    },
  };
});

// One cluster for the file; each test starts from an empty cluster with a new connection.
const cluster = await startRedisCluster();

suite("memo on a Redis Cluster (with L1)", async () => {
  await cluster.onMasters("FLUSHDB");
  const redis = await connectRedis(cluster.target, { log: () => {} });
  return {
    make: (tenant, clock, log) =>
      new StaleWhileRevalidate({
        tenant,
        clock,
        store: RedisStore.over(() => redis.ready()),
        l1: redis.l1 ?? false,
        log: log ?? (() => {}),
      }),
    [Symbol.asyncDispose]: () => redis.close(),
  };
});

Deno.test("memo on a Redis Cluster: an entry and its window locks share a hash slot", async () => {
  const swr = new StaleWhileRevalidate({ tenant: "kano", store: RedisStore.over(() => undefined) });
  const slot = await cluster.keySlot(swr.keyFor("overview"));
  for (const what of ["fill:28333333", "refresh:28333334:1700000000000"]) {
    assert.equal(await cluster.keySlot(swr.lockKeyFor("overview", what)), slot, what);
  }
});

Deno.test("memo on a Redis Cluster: invalidate() marks every key stale on every master", async () => {
  await cluster.onMasters("FLUSHDB");
  const redis = await connectRedis(cluster.target, { log: () => {} });
  try {
    const swr = new StaleWhileRevalidate({
      tenant: "t1",
      clock: () => T0,
      store: RedisStore.over(() => redis.ready()),
      l1: redis.l1 ?? false,
      log: () => {},
    });
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
    for (const key of keys) await swr.memo(key, WINDOW, () => Promise.resolve(key));
    const masters = new Set(
      await Promise.all(keys.map(async (k) => (await cluster.masterOf(swr.keyFor(k))).port)),
    );
    assert.equal(masters.size, 3, "the keys live on every master");
    await swr.invalidate();
    for (const key of keys) {
      assert.equal((await swr.memo(key, WINDOW, () => Promise.resolve("new"))).state, "stale");
    }
    await swr.settled();
  } finally {
    await redis.close();
  }
});

Deno.test("memo cluster teardown", () => cluster.stop());

suite("memo in memory (no Redis)", () =>
  Promise.resolve({
    make: (tenant, clock, log) =>
      new StaleWhileRevalidate({
        tenant,
        clock,
        store: RedisStore.over(() => undefined),
        log: log ?? (() => {}),
      }),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  }));

Deno.test("memo() rejects a window that is not a positive integer", async () => {
  const swr = new StaleWhileRevalidate({ tenant: "t", store: RedisStore.over(() => undefined) });
  await assert.rejects(() => swr.memo("k", 0, () => Promise.resolve(1)), RangeError);
  assert.throws(() => new StaleWhileRevalidate({ tenant: "a:b" }), TypeError);
});
