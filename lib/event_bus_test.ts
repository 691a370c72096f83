/**
 * EventBus against a real redis-server: two buses with their own connections stand for
 * two processes.
 */
import assert from "node:assert/strict";
import { createClient } from "redis";
import { EventBus } from "./event_bus.ts";
import { connectRedis, type RedisClient } from "./redis.ts";
import { startRedis } from "./testing/redis_server.ts";
import { startRedisCluster } from "./testing/redis_cluster.ts";
import { RedisStore } from "./redis_store.ts";

async function connect(url: string): Promise<RedisClient> {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: 500, reconnectStrategy: () => 50 },
  }) as unknown as RedisClient;
  client.on("error", () => {});
  await client.connect();
  return client;
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met within the timeout");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const quiet = () => {};

Deno.test("EventBus.publish() delivers locally first, then to the other process's bus, once each", async () => {
  await using redis = await startRedis();
  const clientA = await connect(redis.url);
  const clientB = await connect(redis.url);
  const a = new EventBus<{ n: number }>("test:events", {
    store: RedisStore.over(() => clientA),
    log: quiet,
  });
  const b = new EventBus<{ n: number }>("test:events", {
    store: RedisStore.over(() => clientB),
    log: quiet,
  });
  try {
    a.start();
    b.start();
    assert.ok(await a.waitUntilSubscribed(5000));
    assert.ok(await b.waitUntilSubscribed(5000));
    const gotA: [number, number, boolean][] = [];
    const gotB: [number, number, boolean][] = [];
    a.subscribe(({ seq, message, local }) => gotA.push([seq, message.n, local]));
    b.subscribe(({ seq, message, local }) => gotB.push([seq, message.n, local]));

    const first = await a.publish({ n: 1 });
    assert.deepEqual(first, { seq: 1, published: true });
    assert.deepEqual(gotA, [[1, 1, true]], "local delivery happened before publish() returned");
    const second = await b.publish({ n: 2 });
    assert.equal(second.seq, 2);
    await until(() => gotA.length === 2 && gotB.length === 2);
    await new Promise((resolve) => setTimeout(resolve, 50)); // no late duplicates
    assert.deepEqual(gotA, [[1, 1, true], [2, 2, false]]);
    assert.deepEqual(gotB, [[1, 1, false], [2, 2, true]]);
    assert.equal(a.lastSeq, 2);
  } finally {
    await a.close();
    await b.close();
    await clientA.close();
    await clientB.close();
  }
});

Deno.test("EventBus.publish() with Redis down still reaches this process, with increasing numbers", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  const bus = new EventBus<string>("test:events", {
    store: RedisStore.over(() => (client.isReady ? client : undefined)),
    commandTimeoutMs: 200,
    log: quiet,
  });
  try {
    bus.start();
    assert.ok(await bus.waitUntilSubscribed(5000));
    const got: number[] = [];
    bus.subscribe(({ seq }) => got.push(seq));
    assert.deepEqual(await bus.publish("up"), { seq: 1, published: true });
    await redis.kill();
    await until(() => !client.isReady);
    assert.deepEqual(await bus.publish("down"), { seq: 2, published: false });
    assert.deepEqual(await bus.publish("down again"), { seq: 3, published: false });
    assert.deepEqual(got, [1, 2, 3]);
  } finally {
    await bus.close();
    client.destroy();
  }
});

Deno.test("EventBus sequence numbers keep increasing after FLUSHDB resets the counter", async () => {
  await using redis = await startRedis();
  const client = await connect(redis.url);
  const bus = new EventBus<string>("test:events", {
    store: RedisStore.over(() => client),
    log: quiet,
  });
  try {
    for (let i = 1; i <= 5; i++) assert.equal((await bus.publish("x")).seq, i);
    await redis.cli("FLUSHDB");
    assert.equal((await bus.publish("x")).seq, 6);
    assert.equal(await redis.cli("GET", "test:events:seq"), "6", "the counter was repaired");
  } finally {
    await bus.close();
    await client.close();
  }
});

Deno.test("EventBus re-subscribes after Redis restarts and receives again", async () => {
  await using redis = await startRedis();
  const clientA = await connect(redis.url);
  const clientB = await connect(redis.url);
  const a = new EventBus<number>("test:events", {
    store: RedisStore.over(() => (clientA.isReady ? clientA : undefined)),
    log: quiet,
  });
  const b = new EventBus<number>("test:events", {
    store: RedisStore.over(() => (clientB.isReady ? clientB : undefined)),
    log: quiet,
  });
  try {
    a.start();
    b.start();
    assert.ok(await b.waitUntilSubscribed(5000));
    const got: number[] = [];
    b.subscribe(({ message }) => got.push(message));
    await redis.kill();
    await redis.restart();
    await until(() => clientA.isReady && b.subscribed);
    // The subscription is re-established by the client's reconnect; publish until it lands.
    const deadline = Date.now() + 5000;
    while (got.length === 0 && Date.now() < deadline) {
      await a.publish(7);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(got.includes(7));
  } finally {
    await a.close();
    await b.close();
    clientA.destroy();
    clientB.destroy();
  }
});

Deno.test("EventBus on a Redis Cluster: sharded pub/sub on the channel's master, numbers from one counter", async () => {
  await using cluster = await startRedisCluster();
  const connectionA = await connectRedis(cluster.target, { l1: false, log: quiet });
  const connectionB = await connectRedis(cluster.target, { l1: false, log: quiet });
  const a = new EventBus<{ n: number }>("wb:events", {
    store: RedisStore.over(() => connectionA.ready()),
    log: quiet,
  });
  const b = new EventBus<{ n: number }>("wb:events", {
    store: RedisStore.over(() => connectionB.ready()),
    log: quiet,
  });
  try {
    a.start();
    b.start();
    assert.ok(await a.waitUntilSubscribed(5000));
    assert.ok(await b.waitUntilSubscribed(5000));
    const master = await cluster.masterOf("wb:events");
    assert.equal(await master.cli("PUBSUB", "SHARDNUMSUB", "wb:events"), "wb:events\n2");
    const gotA: [number, number, boolean][] = [];
    const gotB: [number, number, boolean][] = [];
    a.subscribe(({ seq, message, local }) => gotA.push([seq, message.n, local]));
    b.subscribe(({ seq, message, local }) => gotB.push([seq, message.n, local]));
    assert.deepEqual(await a.publish({ n: 1 }), { seq: 1, published: true });
    assert.deepEqual(await b.publish({ n: 2 }), { seq: 2, published: true });
    await until(() => gotA.length === 2 && gotB.length === 2);
    await new Promise((resolve) => setTimeout(resolve, 50)); // no late duplicates
    assert.deepEqual(gotA, [[1, 1, true], [2, 2, false]]);
    assert.deepEqual(gotB, [[1, 1, false], [2, 2, true]]);
    assert.equal(await (await cluster.masterOf("wb:events:seq")).cli("GET", "wb:events:seq"), "2");
  } finally {
    await a.close();
    await b.close();
    await connectionA.close();
    await connectionB.close();
  }
});
