/**
 * OffThreadDeflate and the large-entry write path of TimCacheC: the same bytes as the
 * on-thread deflate, the event loop free while a worker deflates, nothing lost on close.
 */
import assert from "node:assert/strict";
import { createClient } from "redis";
import { deflateBase64Sync, OffThreadDeflate } from "./off_thread_deflate.ts";
import { COMPRESSED } from "./_codec.ts";
import type { RedisClient } from "./redis.ts";
import { RedisStore } from "./redis_store.ts";
import { TimCacheC } from "./tim_cache_c.ts";
import type { HashFuncs } from "./types.ts";
import { startRedis } from "./testing/redis_server.ts";

/** JSON of about `bytes` that deflates about 4:1, like a facility table. */
function tableJson(bytes: number): string {
  const rows: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const row = `{"facility_id":"F${(i * 7919) % 100_003}","ward":"Ward ${i % 13_338}",` +
      `"count":${(i * 31) % 977},"count_adjusted":${((i * 17) % 1009) / 4}}`;
    rows.push(row);
    size += row.length + 1;
  }
  return `[${rows.join(",")}]`;
}

Deno.test("OffThreadDeflate gives the on-thread bytes and leaves the event loop free", async () => {
  const deflate = new OffThreadDeflate();
  try {
    const json = tableJson(4_000_000);
    const done = deflate.deflateBase64(json).then((base64) => ({ base64 }));
    assert.equal(deflate.pending, 1);
    // A timer set after the call fires before the result: the deflate runs elsewhere. (On
    // this thread the call would have finished before the timer could.)
    const first = await Promise.race([done, new Promise((r) => setTimeout(() => r("timer"), 0))]);
    assert.equal(first, "timer");
    const { base64 } = await done;
    assert.equal(base64, deflateBase64Sync(json));
    assert.ok(deflate.running);
    assert.equal(deflate.pending, 0);
  } finally {
    deflate.close();
  }
  assert.ok(!deflate.running);
});

Deno.test("OffThreadDeflate.start() starts the worker before the first job; twice is harmless", async () => {
  const deflate = new OffThreadDeflate();
  try {
    assert.ok(!deflate.running);
    deflate.start();
    assert.ok(deflate.running);
    deflate.start();
    const json = tableJson(300_000);
    assert.equal(await deflate.deflateBase64(json), deflateBase64Sync(json));
    assert.ok(deflate.running);
  } finally {
    deflate.close();
  }
  assert.ok(!deflate.running);
});

Deno.test("OffThreadDeflate.close() finishes the jobs in flight on this thread", async () => {
  const deflate = new OffThreadDeflate();
  const jsons = [tableJson(1_000_000), tableJson(2_000_000), "[]"];
  const results = jsons.map((json) => deflate.deflateBase64(json));
  deflate.close();
  assert.deepEqual(await Promise.all(results), jsons.map(deflateBase64Sync));
  assert.equal(deflate.pending, 0);
  // Usable again after close: a new worker.
  assert.equal(await deflate.deflateBase64("[1]"), deflateBase64Sync("[1]"));
  deflate.close();
});

Deno.test("TimCacheC compresses a large entry in the store's worker, a small one on this thread", async () => {
  await using redis = await startRedis();
  const client = createClient({ url: redis.url }) as unknown as RedisClient;
  await client.connect();
  const store = RedisStore.over(() => client);
  try {
    const funcs: HashFuncs<string, number, { id: string; rows: unknown }> = {
      uniquenessHashFromParams: (id) => id,
      versionHashFromParams: (v) => String(v),
      parseData: (d) => ({ shouldStore: true, uniquenessHash: d.id, versionHash: "1" }),
    };
    const cache = new TimCacheC("offthread", funcs, {
      store,
      offThreadAboveBytes: 100_000,
      log: () => {},
    });
    const small = { id: "small", rows: JSON.parse(tableJson(50_000)) };
    await cache.setPromise(Promise.resolve(small), "small", 1);
    assert.ok(!store.deflate.running, "a 50 KB entry is deflated on this thread");
    const large = { id: "large", rows: JSON.parse(tableJson(1_500_000)) };
    await cache.setPromise(Promise.resolve(large), "large", 1);
    assert.ok(store.deflate.running, "a 1.5 MB entry went to the worker");
    for (const value of [small, large]) {
      const stored = (await client.get(cache.keyFor(value.id)))!;
      const json = JSON.stringify({ versionHash: "1", data: value });
      assert.equal(stored, COMPRESSED + deflateBase64Sync(json));
      assert.deepEqual(await cache.get(value.id, 1), value);
    }
  } finally {
    await store.close();
    client.destroy();
  }
  assert.ok(!store.deflate.running, "close() stops the worker");
});
