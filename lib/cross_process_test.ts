/**
 * Cross-process behaviour on one real redis-server and on a Redis Cluster: the
 * stale-while-revalidate memo across 3 processes, and L1 coherence between processes.
 */
import assert from "node:assert/strict";
import type { RedisTarget } from "./redis.ts";
import { RedisStore } from "./redis_store.ts";
import { TimCacheC } from "./tim_cache_c.ts";
import { delay } from "./testing/deferred.ts";
import { freePort, startRedis } from "./testing/redis_server.ts";
import { startRedisCluster } from "./testing/redis_cluster.ts";
import { targetArg } from "./testing/redis_target.ts";

/** Where a test runs: the Redis target, a raw read of one key, and a FLUSHDB of everything. */
interface Where {
  name: string;
  target: RedisTarget;
  get(key: string): Promise<string>;
  flushAll(): Promise<void>;
}

async function startWorkers(redis: RedisTarget, count: number) {
  return await Promise.all(Array.from({ length: count }, async () => {
    const port = freePort();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./testdata/cache_worker.ts", import.meta.url).pathname,
        targetArg(redis),
        String(port),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assert.match((await reader.read()).value ?? "", /ready/);
    reader.releaseLock();
    return {
      port,
      child,
      get: async (path: string) => {
        const response = await fetch(`http://127.0.0.1:${port}${path}`);
        return { body: await response.json(), headers: response.headers };
      },
    };
  }));
}

type Workers = Awaited<ReturnType<typeof startWorkers>>;

async function stop(workers: Workers) {
  for (const w of workers) {
    w.child.kill("SIGKILL");
    await w.child.status;
    await w.child.stdout.cancel().catch(() => {});
  }
}

const WINDOW = 60_000;
const T0 = 1_700_000_040_000; // a window boundary (multiple of 60 s) + 0

async function memoAcrossProcesses(where: Where): Promise<void> {
  const workers = await startWorkers(where.target, 3);
  try {
    const cold = await workers[0].get(`/memo?key=overview&now=${T0 + 1000}`);
    assert.equal(cold.body.state, "computed");
    assert.equal(cold.body.nextBoundaryMs, T0 + WINDOW);
    const fresh = await Promise.all(
      workers.map((w) => w.get(`/memo?key=overview&now=${T0 + 2000}`)),
    );
    for (const r of fresh) assert.equal(r.body.state, "fresh");

    const turned = T0 + WINDOW + 5; // just after the boundary, for every process
    const answers = await Promise.all(
      Array.from(
        { length: 30 },
        (_, i) => workers[i % 3].get(`/memo?key=overview&now=${turned}`),
      ),
    );
    for (const a of answers) {
      assert.equal(a.body.state, "stale");
      assert.deepEqual(a.body.value.run, 1);
    }
    const slowest = Math.max(...answers.map((a) => a.body.ms));
    console.log(
      `30 requests after the turn: all stale, slowest ${slowest.toFixed(1)} ms (producer 300 ms)`,
    );
    await delay(600); // the one refresh finishes
    assert.equal(await where.get("swr_runs:overview"), "2");
    const after = await Promise.all(
      workers.map((w) => w.get(`/memo?key=overview&now=${turned + 1000}`)),
    );
    for (const a of after) {
      assert.equal(a.body.state, "fresh");
      assert.equal(a.body.value.run, 2);
    }
  } finally {
    await stop(workers);
  }
}

async function l1Coherence(where: Where): Promise<void> {
  const [other] = await startWorkers(where.target, 1);
  // The writer's log lines, printed if the test fails (a write that hit the reply deadline
  // on a loaded machine is logged there, and is written again below).
  const logged: string[] = [];
  const log = (line: string) => void logged.push(line);
  const store = await RedisStore.connect(where.target, { log, l1: false });
  try {
    const cache = new TimCacheC<string, string, { key: string; v: string; n: number }>("l1test", {
      uniquenessHashFromParams: (k) => k,
      versionHashFromParams: (v) => v,
      parseData: (d) => ({ shouldStore: true, uniquenessHash: d.key, versionHash: d.v }),
    }, { store, log });
    // Writes `n` and waits until Redis holds it: the cache swallows a failed write (a cache
    // is never a reason to fail), and this test is about the other process's L1, not about
    // the writer's reply deadline.
    const write = async (n: number) => {
      for (let attempt = 0; attempt < 5; attempt++) {
        await cache.setPromise(Promise.resolve({ key: "hot", v: "1", n }), "hot", "1");
        if ((await where.get(cache.keyFor("hot")) ?? "").includes(`"n":${n}`)) return;
        logged.push(`write of n=${n} not in Redis after attempt ${attempt + 1}`);
      }
      assert.fail(`the write of n=${n} never reached Redis:\n${logged.join("\n")}`);
    };
    await write(1);
    assert.equal((await other.get("/get?key=hot")).body.n, 1);
    // The other process's L1 answers: two reads in a row, the second an L1 hit. Its first
    // read of the key may also refresh the key's TTL (once a day per key and process), and
    // that EXPIRE's invalidation drops the entry once, so allow a few rounds.
    const l1Hits = async () => Number((await other.get("/get?key=hot")).headers.get("x-l1-hits"));
    let servedFromL1 = false;
    for (let round = 0; round < 20 && !servedFromL1; round++) {
      const before = await l1Hits();
      servedFromL1 = (await l1Hits()) === before + 1;
    }
    assert.ok(servedFromL1, "the other process never answered from its L1");

    // This process writes a new value (L1 TTL in the other process: 10 minutes).
    const changedAt = performance.now();
    await write(2);
    let seen = 1;
    let l1State = "";
    for (let i = 0; i < 200 && seen !== 2; i++) {
      const answer = await other.get("/get?key=hot");
      seen = answer.body.n;
      l1State = answer.headers.get("x-l1") ?? "";
      if (seen !== 2) await delay(5);
    }
    assert.equal(seen, 2, `the other process still serves n=${seen} (its L1: ${l1State})`);
    console.log(
      `${where.name}: the other process's L1 served the new value ${
        (performance.now() - changedAt).toFixed(1)
      } ms after the write`,
    );

    // A FLUSHDB (flush-all; on a cluster, on every master) empties every L1 too.
    await where.flushAll();
    let after: unknown = "stale";
    for (let i = 0; i < 200 && after !== null; i++) {
      after = (await other.get("/get?key=hot")).body;
      if (after !== null) await delay(5);
    }
    assert.equal(after, null);
  } finally {
    await store.close();
    await stop([other]);
  }
}

const options = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name:
    "memo across 3 processes: after the window turns, all serve stale at once and one refresh runs",
  ...options,
  fn: async () => {
    await using redis = await startRedis();
    await memoAcrossProcesses({
      name: "one node",
      target: redis.url,
      get: (key) => redis.cli("GET", key),
      flushAll: async () => void await redis.cli("FLUSHDB"),
    });
  },
});

Deno.test({
  name: "L1 coherence: a value changed by one process stops being served by another's L1",
  ...options,
  fn: async () => {
    await using redis = await startRedis();
    await l1Coherence({
      name: "one node",
      target: redis.url,
      get: (key) => redis.cli("GET", key),
      flushAll: async () => void await redis.cli("FLUSHDB"),
    });
  },
});

// The same on a Redis Cluster (3 masters, 3 replicas), started once for these tests.
const cluster = await startRedisCluster();
const onCluster: Where = {
  name: "cluster",
  target: cluster.target,
  get: async (key) => await (await cluster.masterOf(key)).cli("GET", key),
  flushAll: async () => void await cluster.onMasters("FLUSHDB"),
};

Deno.test({
  name:
    "memo across 3 processes on a Redis Cluster: after the window turns, all serve stale at once and one refresh runs",
  ...options,
  fn: () => memoAcrossProcesses(onCluster),
});

Deno.test({
  name:
    "L1 coherence on a Redis Cluster: a value changed by one process stops being served by another's L1",
  ...options,
  fn: () => l1Coherence(onCluster),
});

Deno.test("cross-process cluster teardown", () => cluster.stop());
