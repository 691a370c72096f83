/** SeenSet against a real redis-server: two sets with their own connections stand for two processes. */
import assert from "node:assert/strict";
import { createClient } from "redis";
import type { RedisClient } from "./redis.ts";
import { SeenSet } from "./seen_set.ts";
import { startRedis } from "./testing/redis_server.ts";
import { RedisStore } from "./redis_store.ts";

async function connect(url: string): Promise<RedisClient> {
  const client = createClient({ url, disableOfflineQueue: true }) as unknown as RedisClient;
  client.on("error", () => {});
  await client.connect();
  return client;
}

Deno.test("SeenSet.add() is true once per id across processes, and again after delete()", async () => {
  await using redis = await startRedis();
  const clientA = await connect(redis.url);
  const clientB = await connect(redis.url);
  try {
    const a = new SeenSet("test:seen", { ttlS: 60, store: RedisStore.over(() => clientA) });
    const b = new SeenSet("test:seen", { ttlS: 60, store: RedisStore.over(() => clientB) });
    assert.equal(await a.add("e1"), true);
    assert.equal(await a.add("e1"), false, "seen by this process");
    assert.equal(await b.add("e1"), false, "seen by the other process");
    assert.equal(Number(await redis.cli("TTL", "test:seen:e1")) > 0, true);
    await a.delete("e1");
    assert.equal(await b.add("e1"), true);
  } finally {
    await clientA.close();
    await clientB.close();
  }
});

Deno.test("SeenSet.add() with Redis down remembers this process's ids only", async () => {
  const set = new SeenSet("test:seen", { ttlS: 60, store: RedisStore.over(() => undefined) });
  assert.equal(await set.add("e1"), true);
  assert.equal(await set.add("e1"), false);
  assert.throws(() => new SeenSet("x", { ttlS: 0, store: RedisStore.disabled() }), RangeError);
});
