/**
 * `TimCacheC` with a Redis database of its own (`ownsDatabase`, `_own_database.ts`) against
 * a real redis-server: `clearAll` flushes that database (one FLUSHDB, no per-key deletes)
 * and nothing else; fills in flight are fenced across the flush in this process and in
 * another; every L1 hears of it; a database that visibly holds something else is not
 * flushed (the clear goes key by key and reports why); a store is owned by one cache only.
 */
import assert from "node:assert/strict";
import { connectRedis, type RedisConnection } from "./redis.ts";
import { RedisStore } from "./redis_store.ts";
import { OWNER_KEY } from "./_own_database.ts";
import { TimCacheC } from "./tim_cache_c.ts";
import { ANY_VERSION, type HashFuncs } from "./types.ts";
import { deferred, delay } from "./testing/deferred.ts";
import { startRedis } from "./testing/redis_server.ts";

interface Value {
  id: string;
  rev: number;
}

const funcs: HashFuncs<string, number, Value> = {
  uniquenessHashFromParams: (id) => id,
  versionHashFromParams: (rev) => `r${rev}`,
  parseData: (v) => ({ shouldStore: true, uniquenessHash: v.id, versionHash: `r${v.rev}` }),
};

const redis = await startRedis();
/** A raw client per database, for checks (no L1). */
const raw = new Map<number, RedisConnection>();
async function db(n: number) {
  let connection = raw.get(n);
  if (!connection) {
    connection = await connectRedis(`${redis.url}/${n}`, { log: () => {}, l1: false });
    raw.set(n, connection);
  }
  return connection.client;
}
const opened: RedisStore[] = [];
async function storeOn(n: number): Promise<RedisStore> {
  const store = await RedisStore.connect(`${redis.url}/${n}`, { log: () => {} });
  opened.push(store);
  return store;
}
let serial = 0;

/** A cache named `prefix` that owns `store`'s database; its error lines go to `lines`. */
function owning(store: RedisStore, prefix: string, lines: string[] = []) {
  return new TimCacheC(prefix, funcs, {
    store,
    ownsDatabase: true,
    log: (line) => lines.push(line),
  });
}

async function fill(cache: TimCacheC<string, number, Value>, n: number) {
  for (let i = 0; i < n; i++) {
    await cache.getOrSet(`k${i}`, 1, () => Promise.resolve({ id: `k${i}`, rev: 1 }));
  }
}

async function commandCalls(command: string): Promise<number> {
  const stats = String(await (await db(0)).info("commandstats"));
  return Number(stats.match(new RegExp(`cmdstat_${command}:calls=(\\d+)`))?.[1] ?? 0);
}

Deno.test("clearAll() of a cache with a database of its own flushes that database, and only it", async () => {
  const prefix = `own${serial++}`;
  const cache = owning(await storeOn(3), prefix);
  const neighbour = new TimCacheC(`other${serial++}`, funcs, {
    store: await storeOn(0),
    log: () => {},
  });
  await fill(cache, 200);
  await fill(neighbour, 5);
  await (await db(3)).set("{cache:" + prefix + "}:x", "a bookkeeping-shaped key of the cache");
  const before = Number(await (await db(3)).dbSize());
  assert.ok(before >= 200, String(before));
  await (await db(0)).configResetStat();

  const result = await cache.clearAll();

  assert.equal(result.deleted, before);
  assert.deepEqual(await (await db(3)).keys("*"), [OWNER_KEY]);
  assert.equal(await (await db(3)).get(OWNER_KEY), prefix);
  assert.equal(await commandCalls("flushdb"), 1);
  assert.equal(await commandCalls("unlink"), 0, "a key was deleted one by one");
  assert.equal(await commandCalls("scan"), 0);
  for (let i = 0; i < 5; i++) {
    assert.deepEqual(await neighbour.get(`k${i}`, 1), { id: `k${i}`, rev: 1 });
  }
  assert.equal(await cache.get("k0", ANY_VERSION), undefined);
  // The cache works on after its flush (a new generation), and flushes again.
  await fill(cache, 3);
  assert.equal(Number(await (await db(3)).exists(cache.keyFor("k2"))), 1);
  assert.ok((await cache.clearAll()).deleted! >= 3);
});

Deno.test("a fill that started before the flush cannot write after it, in this process or another", async () => {
  const prefix = `own${serial++}`;
  // Two processes: two connections to database 5, each with its cache of the same name.
  const filling = owning(await storeOn(5), prefix);
  const clearing = owning(await storeOn(5), prefix);
  for (const [who, cache] of [["this process", clearing], ["another", filling]] as const) {
    const gate = deferred<Value>();
    const started = cache.getOrSet("f", 1, () => gate.promise);
    await delay(30); // the fill has taken its fence and runs its producer
    await clearing.clearAll();
    gate.resolve({ id: "f", rev: 1 });
    assert.deepEqual((await started).value, { id: "f", rev: 1 }, "its caller still gets it");
    assert.equal(
      Number(await (await db(5)).exists(cache.keyFor("f"))),
      0,
      `a fill in ${who} wrote after the flush`,
    );
  }
  // A fill after the flush writes.
  await filling.getOrSet("g", 1, () => Promise.resolve({ id: "g", rev: 1 }));
  assert.equal(Number(await (await db(5)).exists(filling.keyFor("g"))), 1);
});

Deno.test("a flush reaches every process's L1", async () => {
  const prefix = `own${serial++}`;
  const reader = owning(await storeOn(6), prefix);
  const clearing = owning(await storeOn(6), prefix);
  await clearing.getOrSet("a", 1, () => Promise.resolve({ id: "a", rev: 1 }));
  assert.deepEqual(await reader.get("a", 1), { id: "a", rev: 1 }); // from Redis, now in its L1
  assert.deepEqual(await reader.get("a", 1), { id: "a", rev: 1 });
  await clearing.clearAll();
  let seen: Value | undefined = { id: "a", rev: 1 };
  for (let i = 0; i < 200 && seen !== undefined; i++) {
    seen = await reader.get("a", 1);
    if (seen) await delay(5);
  }
  assert.equal(seen, undefined, "the reader's L1 kept the flushed entry");
});

Deno.test("a database that holds another's keys, or names another owner, is not flushed: the clear goes key by key", async () => {
  const prefix = `own${serial++}`;
  const lines: string[] = [];
  const cache = owning(await storeOn(7), prefix, lines);
  const client = await db(7);
  await fill(cache, 10);
  // Several times the cache's keys: 16 random keys all missing them is about 1e-7 likely.
  for (let i = 0; i < 300; i++) await client.set(`session:${i}`, "not the cache's");
  assert.equal((await cache.clearAll()).deleted, 10);
  assert.equal((await client.keys("session:*")).length, 300);
  assert.deepEqual(await client.keys(`${cache.keyFor("")}*`), []);
  assert.equal(await cache.get("k0", ANY_VERSION), undefined);
  assert.match(lines.join("\n"), /not the cache's alone \(key session:\d+\)/);

  await client.flushDb();
  await fill(cache, 4);
  await client.set(OWNER_KEY, "someone_else");
  await delay(1100); // the cache logs one error line per second at most
  assert.equal((await cache.clearAll()).deleted, 4);
  assert.equal(await client.get(OWNER_KEY), "someone_else");
  assert.match(lines.join("\n"), /not the cache's alone \(owner someone_else\)/);
});

Deno.test("a store whose database a cache owns takes no other cache, and the other way round", async () => {
  const store = await storeOn(8);
  owning(store, `own${serial++}`);
  assert.throws(
    () => new TimCacheC("second", funcs, { store, log: () => {} }),
    /Cannot build cache 'second' on this store: cache 'own\d+' has its database to itself/,
  );
  const shared = await storeOn(9);
  new TimCacheC("first", funcs, { store: shared, log: () => {} });
  assert.throws(
    () => owning(shared, "late"),
    /Cannot build cache 'late' with 'ownsDatabase' on a store that other caches use \('first'\)/,
  );
});

Deno.test({
  name: "own database teardown",
  fn: async () => {
    for (const store of opened) await store.close();
    for (const connection of raw.values()) await connection.close();
    await redis.stop();
  },
});
