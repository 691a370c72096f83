/**
 * The memory test of issue 13: 10,000 cycles of each public call pattern of `TimCacheB` and
 * `TimCacheC` (on a real redis-server, with its L1), failures, timeouts and clears
 * included, leave every internal table empty and every value collectable (`WeakRef` after
 * a forced GC; the test task runs with `--v8-flags=--expose-gc`).
 */
import assert from "node:assert/strict";
import { connectRedis } from "./redis.ts";
import { TimCacheB } from "./tim_cache_b.ts";
import { TimCacheC } from "./tim_cache_c.ts";
import { ANY_VERSION, type HashFuncs } from "./types.ts";
import { delay } from "./testing/deferred.ts";
import { collectable } from "./testing/memory.ts";
import { startRedis } from "./testing/redis_server.ts";
import { RedisStore } from "./redis_store.ts";

const CYCLES = 10_000;
/** Cycles run at once (the patterns are about bookkeeping, not about load). */
const BATCH = 250;

interface Value {
  id: string;
  rev: number;
  payload?: unknown;
}

const funcs: HashFuncs<string, number, Value> = {
  uniquenessHashFromParams: (id) => id,
  versionHashFromParams: (rev) => `v${rev}`,
  parseData: (d) => ({ shouldStore: true, uniquenessHash: d.id, versionHash: `v${d.rev}` }),
};

type Cache = TimCacheB<string, number, Value> | TimCacheC<string, number, Value>;

/** One cycle of a pattern: `value(i)` makes (and registers) a fresh value. */
type Pattern = (
  cache: Cache,
  i: number,
  value: (id: string, rev?: number) => Value,
) => Promise<unknown>;

const never = () => new Promise<Value>(() => {});
const fail = () => Promise.reject(new Error("producer failed"));

const PATTERNS: Record<string, Pattern> = {
  "getOrSet miss then hit": async (c, i, v) => {
    await c.getOrSet(`a${i}`, 1, () => Promise.resolve(v(`a${i}`)));
    await c.getOrSet(`a${i}`, 1, () => Promise.resolve(v(`a${i}`)));
  },
  "getOrSet with a failing producer, joined": async (c, i) => {
    await Promise.allSettled([
      c.getOrSet(`b${i % 50}`, i, fail),
      c.getOrSet(`b${i % 50}`, i, fail),
    ]);
  },
  "getOrSet with a producer that never settles (hard timeout)": async (c, i) => {
    await Promise.allSettled([c.getOrSet(`h${i}`, 1, never), c.getOrSet(`h${i}`, 1, never)]);
  },
  "get miss then setPromise (the plan's pair)": async (c, i, v) => {
    if (await c.get(`p${i % 100}`, i) === undefined) {
      await c.setPromise(Promise.resolve(v(`p${i % 100}`, i)), `p${i % 100}`, i);
    }
  },
  "get miss then a rejected setPromise": async (c, i) => {
    await c.get(`r${i % 100}`, i);
    await c.setPromise(fail(), `r${i % 100}`, i).catch(() => {});
  },
  "get miss abandoned (lease expiry), with a waiter": async (c, i) => {
    await c.get(`l${i}`, 1);
    await c.get(`l${i}`, 1); // waits for the lease, then holds the next one
  },
  "get of any version, then setPromise": async (c, i, v) => {
    if (await c.get(`y${i % 100}`, ANY_VERSION) === undefined) {
      await c.setPromise(Promise.resolve(v(`y${i % 100}`, i)), `y${i % 100}`, i);
    }
  },
  "getOrSet after a get miss (lease taken over)": async (c, i, v) => {
    await c.get(`t${i}`, 1);
    await c.getOrSet(`t${i}`, 1, () => Promise.resolve(v(`t${i}`)));
  },
  "clear() during a fill": async (c, i, v) => {
    const filling = c.getOrSet(`c${i % 100}`, 1, async () => {
      await delay(1);
      return v(`c${i % 100}`);
    });
    await c.clear(`c${i % 100}`);
    await filling;
  },
  "clearAll() during a fill": async (c, i, v) => {
    const filling = c.setPromise(delay(1).then(() => v(`z${i}`)), `z${i}`, 1);
    if (i % 50 === 0) await c.clearAll();
    await filling;
  },
  "a value of another version (joiners retry)": async (c, i, v) => {
    await Promise.all([
      c.getOrSet(`w${i % 100}`, i, () => Promise.resolve(v(`w${i % 100}`, i + 1))),
      c.getOrSet(`w${i % 100}`, i, () => Promise.resolve(v(`w${i % 100}`, i))),
    ]);
  },
  "an unencodable value": async (c, i, v) => {
    const value = v(`u${i}`);
    value.payload = BigInt(i);
    await c.getOrSet(`u${i}`, 1, () => Promise.resolve(value));
  },
};

/** Patterns that wait for the hard timeout get a short one; the others a long one. */
const HANGS = "getOrSet with a producer that never settles (hard timeout)";

function runPatterns(
  name: string,
  make: (producerTimeoutMs: number) => Cache,
  extra?: Record<string, Pattern>,
) {
  for (const [pattern, cycle] of Object.entries({ ...PATTERNS, ...extra })) {
    Deno.test({
      name: `${name}: 10,000 cycles of '${pattern}' leave nothing behind`,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: async () => {
        const cache = make(pattern === HANGS ? 50 : 10_000);
        const refs: WeakRef<object>[] = [];
        const value = (id: string, rev = 1) => {
          const made: Value = { id, rev, payload: [id, rev] };
          refs.push(new WeakRef(made));
          return made;
        };
        for (let start = 0; start < CYCLES; start += BATCH) {
          await Promise.all(
            Array.from({ length: BATCH }, (_, j) => cycle(cache, start + j, value)),
          );
        }
        for (let i = 0; i < 100 && cache.inFlightCount > 0; i++) await delay(20);
        await cache.clearAll();
        assert.equal(cache.inFlightCount, 0, "flights or leases left");
        assert.equal(cache.inFlightKeys, 0, "joinable keys left");
        if (cache instanceof TimCacheC) {
          assert.deepEqual(cache.pendingClears, { keys: 0, all: false });
        }
        const reclaimed = await collectable(refs);
        assert.equal(reclaimed, refs.length, `${refs.length - reclaimed} values still reachable`);
      },
    });
  }
}

runPatterns(
  "TimCacheB",
  (producerTimeoutMs) =>
    new TimCacheB(funcs, { missLeaseMs: 20, producerTimeoutMs, maxEntries: 100_000 }),
);

const redis = await startRedis();
const connection = await connectRedis(redis.url, { log: () => {} });
let prefixes = 0;
runPatterns(
  "TimCacheC",
  (producerTimeoutMs) =>
    new TimCacheC(`memory${prefixes++}`, funcs, {
      missLeaseMs: 20,
      producerTimeoutMs,
      store: RedisStore.over(() => connection.ready()),
      l1: connection.l1 ?? false,
      log: () => {},
    }),
  {
    "getMany over hits and misses": async (c, i, v) => {
      const requests = [0, 1, 2].map((k) => ({ params: `m${(i + k) % 300}`, version: 1 }));
      await (c as TimCacheC<string, number, Value>).getMany(
        requests,
        (id) => Promise.resolve(v(id)),
      );
    },
  },
);

Deno.test({
  name: "core memory teardown",
  fn: async () => {
    await connection.close();
    await redis.stop();
  },
});
