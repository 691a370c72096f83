/** The fill lock protocol against a real redis-server. */
import assert from "node:assert/strict";
import { createClient } from "redis";
import { beginFence, fencedDelete, fencedWrite, fenceKeyFor } from "./_fence.ts";
import { FillLock, lockKeyFor, parseLockValue } from "./fill_lock.ts";
import type { RedisClient } from "./redis.ts";
import { delay } from "./testing/deferred.ts";
import { startRedis } from "./testing/redis_server.ts";

const direct = <R>(command: Promise<R>) => command;
const keyed = <R>(_key: string, command: Promise<R>) => command;

async function connect(url: string): Promise<RedisClient> {
  const client = createClient({ url }) as unknown as RedisClient;
  await client.connect();
  return client;
}

Deno.test("FillLock: an expired leader cannot release or extend the next leader's lock", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  try {
    const first = new FillLock(client, direct, "cache:t:a", "v1", 100);
    const second = new FillLock(client, direct, "cache:t:a", "v1", 5000);
    assert.equal(await first.tryAcquire(), true);
    assert.equal(await second.tryAcquire(), false);
    await delay(150); // first's lease expires
    assert.equal(await second.tryAcquire(), true);
    assert.equal(await first.release(), false);
    assert.equal(await first.extend(), false);
    assert.equal(await client.get(second.lockKey), second.token);
    assert.equal(await second.release(), true);
    assert.equal(await client.exists(second.lockKey), 0);
  } finally {
    client.destroy();
  }
});

Deno.test("FillLock: a leader's late write cannot overwrite the newer leader's value (fence)", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  try {
    const late = new FillLock(client, direct, "cache:t:b", "v1", 100);
    const newer = new FillLock(client, direct, "cache:t:b", "v1", 5000);
    const write = async (lock: FillLock, value: string) =>
      await fencedWrite(client, keyed, {
        dataKey: "cache:t:b",
        generationKey: "{cache:t}:gen",
        cluster: false,
        fence: await beginFence(client, keyed, "cache:t:b", "{cache:t}:gen"),
        value,
        ttlS: 60,
        lock: { key: lock.lockKey, token: lock.token },
      });
    assert.equal(await late.tryAcquire(), true);
    await delay(150);
    assert.equal(await newer.tryAcquire(), true);
    assert.equal(await write(newer, "new"), "written");
    assert.equal(await write(late, "old"), "not_owner");
    assert.equal(await client.get("cache:t:b"), "new");
    await newer.release();
    assert.equal(await write(late, "old"), "not_owner"); // nor after the release
    assert.equal(await client.get("cache:t:b"), "new");
  } finally {
    client.destroy();
  }
});

Deno.test("FillLock: extend() keeps a long computation's lease alive", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  try {
    // Lease 1500 ms, extended every 300 ms: a stall of over a second on a loaded machine
    // would be needed to lose it (a 150 ms lease extended every 60 ms once did).
    const leader = new FillLock(client, direct, "cache:t:c", "v1", 1500);
    assert.equal(await leader.tryAcquire(), true);
    for (let i = 0; i < 7; i++) {
      await delay(300);
      assert.equal(await leader.extend(), true);
    }
    assert.equal(await client.get(leader.lockKey), leader.token); // 2.1 s > lease
  } finally {
    client.destroy();
  }
});

Deno.test("FillLock.takeOver(): exactly one of many followers replaces a given leader", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  try {
    const dead = new FillLock(client, direct, "cache:t:d", "v1", 60_000);
    assert.equal(await dead.tryAcquire(), true);
    const followers = Array.from(
      { length: 20 },
      () => new FillLock(client, direct, "cache:t:d", "v1", 5000),
    );
    const won = await Promise.all(followers.map((f) => f.takeOver(dead.token)));
    assert.equal(won.filter(Boolean).length, 1);
    const winner = followers[won.indexOf(true)];
    assert.equal(await client.get(winner.lockKey), winner.token);
    assert.equal(await dead.release(), false);
  } finally {
    client.destroy();
  }
});

Deno.test("lockKeyFor() puts the lock in its data key's Redis Cluster hash slot", async () => {
  await using redis = await startRedis({
    args: ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"],
  });
  const keys = [
    "cache:po_items:3f2a9c",
    "cache:po_detail:0123456789abcdef",
    "cache:a*?[b]:x",
    "cache:tagged:{user42}:items",
    "cache:x:{y",
  ];
  for (const key of keys) {
    const dataSlot = await redis.cli("CLUSTER", "KEYSLOT", key);
    for (const related of [lockKeyFor(key, "v1"), lockKeyFor(key, "2026|x}{"), fenceKeyFor(key)]) {
      const slot = await redis.cli("CLUSTER", "KEYSLOT", related);
      assert.equal(slot, dataSlot, `${key} -> ${related}`);
    }
  }
  // One lock per version: two versions of a key are two flights.
  assert.notEqual(lockKeyFor("cache:a:b", "v1"), lockKeyFor("cache:a:b", "v2"));
  // Without a tag, a '}' makes any tag-based lock key hash differently: refused.
  assert.throws(() => lockKeyFor("cache:x:a}b", "v1"), TypeError);
  assert.throws(() => lockKeyFor("cache:x:{}:y", "v1"), TypeError);
});

Deno.test("fencedWrite(): refused after a clear of its key or a new generation, not before", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  try {
    const gen = "{cache:f}:gen";
    const write = async (fence: Awaited<ReturnType<typeof beginFence>>, value: string) =>
      await fencedWrite(client, keyed, {
        dataKey: "cache:f:a",
        generationKey: gen,
        cluster: false,
        fence,
        value,
        ttlS: 0,
      });
    const before = await beginFence(client, keyed, "cache:f:a", gen);
    assert.equal(await write(before, "one"), "written");
    assert.equal(await fencedDelete(client, keyed, "cache:f:a", 60_000, false), 1);
    assert.equal(await write(before, "stale"), "fenced"); // started before the clear
    assert.equal(await client.get("cache:f:a"), null);
    const after = await beginFence(client, keyed, "cache:f:a", gen);
    assert.equal(await write(after, "fresh"), "written");
    await client.set(gen, "moved"); // what clearAll does first
    assert.equal(await write(after, "stale"), "fenced");
    assert.equal(await client.get("cache:f:a"), "fresh");
  } finally {
    client.destroy();
  }
});

Deno.test("parseLockValue() reads tokens and both markers", () => {
  assert.deepEqual(parseLockValue(null), { kind: "free" });
  assert.deepEqual(parseLockValue("abc"), { kind: "held", token: "abc" });
  assert.deepEqual(parseLockValue("failed:abc:Error: x:y"), {
    kind: "failed",
    token: "abc",
    message: "Error: x:y",
  });
  assert.deepEqual(parseLockValue("unstored:abc"), { kind: "unstored", token: "abc" });
});
