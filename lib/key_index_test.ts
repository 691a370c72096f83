/**
 * The key index's drain (`_key_index.ts`) against a real redis-server: it unlinks every key
 * the index names and no other, whatever its batch size, and notices when its set goes away
 * before its end (so the clear scans instead).
 */
import assert from "node:assert/strict";
import { createClient } from "redis";
import {
  COMPLETE,
  drainIndex,
  type IndexCall,
  type IndexClient,
  indexKeyFor,
  startClear,
} from "./_key_index.ts";
import type { RedisClient } from "./redis.ts";
import { startRedis } from "./testing/redis_server.ts";

const PREFIX = "cache:ki:";
const INDEX = indexKeyFor(PREFIX);
const GEN = "{cache:ki}:gen";
const direct: IndexCall = (command) => command;

type Client = RedisClient;

async function connect(url: string): Promise<Client> {
  const client = createClient({ url }) as unknown as RedisClient;
  await client.connect();
  return client;
}

/** `n` entries of the cache, each with its index member, the index complete; one other key. */
async function fill(client: Client, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await client.set(`${PREFIX}k${i}`, "{}");
    await client.sAdd(INDEX, `k${i}`);
  }
  await client.sAdd(INDEX, COMPLETE);
  await client.set("cache:other:k0", "{}");
}

Deno.test("drainIndex() unlinks every key its index names, whatever the batch, and leaves no bookkeeping", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  try {
    for (const pace of [{ commandUs: 1, maxBatch: 100 }, { commandUs: 1000, maxBatch: 7 }]) {
      await fill(client, 60);
      const start = await startClear(client as unknown as IndexClient, direct, {
        generationKey: GEN,
        indexKey: INDEX,
      });
      assert.equal(start.mode, "index");
      const keys = { indexKey: INDEX, keyPrefix: PREFIX, token: start.token };
      const drained = await drainIndex(client as unknown as IndexClient, direct, keys, pace);
      assert.deepEqual(drained, { deleted: 60, lost: false }, JSON.stringify(pace));
      assert.deepEqual(await client.keys(`${PREFIX}*`), []);
      assert.equal(await client.exists("cache:other:k0"), 1, "another cache's key was touched");
      assert.equal(await client.exists(`${INDEX}:draining`), 0);
      assert.equal(await client.exists(`${INDEX}:cursor`), 0);
      assert.deepEqual(await client.sMembers(INDEX), [COMPLETE], "a new complete index");
    }
  } finally {
    client.destroy();
  }
});

Deno.test("drainIndex() reports its set lost when it goes away before its end, and startClear then scans", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  try {
    for (const drop of [`${INDEX}:draining`, `${INDEX}:cursor`]) {
      await fill(client, 40);
      const start = await startClear(client as unknown as IndexClient, direct, {
        generationKey: GEN,
        indexKey: INDEX,
      });
      assert.equal(start.mode, "index");
      // Drops `drop` right before the third batch, on the same connection (so in order).
      let batches = 0;
      const dropping: IndexClient = {
        eval: (script, options) => {
          if (script.includes("SSCAN") && ++batches === 3) void client.unlink(drop);
          return client.eval(script, options);
        },
      };
      const keys = { indexKey: INDEX, keyPrefix: PREFIX, token: start.token };
      const drained = await drainIndex(dropping, direct, keys, { commandUs: 1, maxBatch: 100 });
      assert.equal(drained.lost, true, drop);
      assert.ok(drained.deleted >= 1 && drained.deleted < 40, `${drop}: ${drained.deleted}`);
      assert.ok((await client.keys(`${PREFIX}*`)).length > 0, "keys the lost set named are left");
      const again = await startClear(client as unknown as IndexClient, direct, {
        generationKey: GEN,
        indexKey: INDEX,
      }, { scan: true });
      assert.equal(again.mode, "scan", "a clear after a lost drain scans");
      assert.equal(await client.exists(`${INDEX}:draining`), 0);
      assert.equal(await client.exists(`${INDEX}:cursor`), 0);
      await client.flushDb();
    }
  } finally {
    client.destroy();
  }
});

Deno.test("drainIndex() stops at a cursor that is not its own (another clear's drain)", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  try {
    await fill(client, 10);
    await startClear(client as unknown as IndexClient, direct, {
      generationKey: GEN,
      indexKey: INDEX,
    });
    const keys = { indexKey: INDEX, keyPrefix: PREFIX, token: "someone else" };
    const drained = await drainIndex(client as unknown as IndexClient, direct, keys, {
      commandUs: 50,
      maxBatch: 100,
    });
    assert.deepEqual(drained, { deleted: 0, lost: true });
    assert.equal((await client.keys(`${PREFIX}*`)).length, 10, "another drain's keys untouched");
  } finally {
    client.destroy();
  }
});
