/**
 * Fleet-wide single flight: several processes (each a TimCacheC with a fill policy) on
 * one real redis-server, hit at once on the same cold key; the stampede also on a Redis
 * Cluster.
 */
import assert from "node:assert/strict";
import { createClient } from "redis";
import { connectRedis, type RedisTarget } from "./redis.ts";
import type { RedisClient } from "./redis.ts";
import { TimCacheC } from "./tim_cache_c.ts";
import { type FillPolicy, livenessWindowMs } from "./fill_policy.ts";
import { lockKeyFor } from "./fill_lock.ts";
import { delay } from "./testing/deferred.ts";
import { freePort, startRedis } from "./testing/redis_server.ts";
import { startRedisCluster } from "./testing/redis_cluster.ts";
import { targetArg } from "./testing/redis_target.ts";
import { RedisStore } from "./redis_store.ts";

interface Worker {
  port: number;
  child: Deno.ChildProcess;
  log: () => string;
}

async function startFleet(
  redis: RedisTarget,
  count: number,
  producerMs: number,
  mode: "ok" | "throw",
  policy: FillPolicy,
): Promise<Worker[]> {
  const workers = await Promise.all(Array.from({ length: count }, async () => {
    const port = freePort();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./testdata/fleet_worker.ts", import.meta.url).pathname,
        targetArg(redis),
        String(port),
        String(producerMs),
        mode,
        JSON.stringify(policy),
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let log = "";
    (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) log += chunk;
    })();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const { value } = await lines.read();
    assert.match(value ?? "", /ready/);
    lines.releaseLock();
    return { port, child, log: () => log };
  }));
  return workers;
}

async function stopFleet(workers: Worker[]): Promise<void> {
  for (const worker of workers) {
    try {
      worker.child.kill("SIGKILL");
    } catch { /* already dead */ }
    await worker.child.status;
    await worker.child.stdout.cancel().catch(() => {});
  }
}

async function fire(workers: Worker[], key: string, requests: number) {
  return await Promise.all(Array.from({ length: requests }, async (_, i) => {
    const worker = workers[i % workers.length];
    const started = performance.now();
    try {
      const response = await fetch(`http://127.0.0.1:${worker.port}/?key=${key}`);
      return {
        status: response.status,
        xCache: response.headers.get("x-cache"),
        body: await response.json(),
        ms: performance.now() - started,
        worker: i % workers.length,
      };
    } catch (error) {
      return {
        status: 0,
        xCache: null,
        body: { error: String(error) },
        ms: 0,
        worker: i % workers.length,
      };
    }
  }));
}

const POLICY: FillPolicy = { leaseMs: 5000, maxWaitMs: 60_000, pollMinMs: 5, pollMaxMs: 50 };

async function counter(redis: RedisTarget): Promise<RedisClient> {
  if (typeof redis === "string") {
    const client = createClient({ url: redis }) as unknown as RedisClient;
    await client.connect();
    return client;
  }
  return (await connectRedis(redis, { l1: false, log: () => {} })).client;
}

/** 4 processes x 200 concurrent requests on one cold key: one producer run, one MISS. */
async function stampede(redis: RedisTarget, label: string): Promise<void> {
  const workers = await startFleet(redis, 4, 300, "ok", POLICY);
  const client = await counter(redis);
  try {
    const results = await fire(workers, "cold", 200);
    assert.equal(await client.get("runs:cold"), "1");
    const misses = results.filter((r) => r.xCache === "MISS");
    assert.equal(misses.length, 1, results.map((r) => r.xCache).join(","));
    const leaderPid = Number(await client.get("leader:cold"));
    for (const r of results) {
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { key: "cold", v: "v1", by: leaderPid });
    }
    const followers = results.filter((r) => r.xCache === "HIT").map((r) => r.ms).sort((a, b) =>
      a - b
    );
    console.log(
      `${label}: 200 requests, 4 processes: 1 producer run (300 ms); follower p50 ${
        followers[Math.floor(followers.length / 2)].toFixed(0)
      } ms, p99 ${followers[Math.floor(followers.length * 0.99)].toFixed(0)} ms`,
    );
    const outcomes = workers.flatMap((w) =>
      w.log().split("\n").filter((l) => l.includes('"cache_fill"')).map((l) =>
        JSON.parse(l).outcome
      )
    );
    assert.deepEqual(outcomes.filter((o) => o === "leader"), ["leader"]);
    assert.ok(outcomes.every((o) => o === "leader" || o === "follower_hit"), outcomes.join(","));
  } finally {
    client.destroy();
    await stopFleet(workers);
  }
}

Deno.test({
  name: "fleet: 4 processes x 200 concurrent requests on a cold key run the producer once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using redis = await startRedis();
    await stampede(redis.url, "one node");
  },
});

Deno.test({
  name:
    "fleet on a Redis Cluster: 4 processes x 200 concurrent requests on a cold key run the producer once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using cluster = await startRedisCluster();
    // The lock and the data key share a slot, so the lock scripts run on one master.
    const dataKey = "cache:fleet:cold";
    assert.equal(
      await cluster.keySlot(lockKeyFor(dataKey, "v1")),
      await cluster.keySlot(dataKey),
    );
    await stampede(cluster.target, "cluster");
    const master = await cluster.masterOf(dataKey);
    assert.ok(await master.cli("EXISTS", dataKey), "the value is on its slot's master");
  },
});

Deno.test({
  name: "fleet: with a throwing producer every caller gets the error and nothing is cached",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using redis = await startRedis();
    const workers = await startFleet(redis.url, 4, 200, "throw", POLICY);
    const client = await counter(redis.url);
    try {
      const results = await fire(workers, "bad", 100);
      for (const r of results) {
        assert.equal(r.status, 503);
        assert.match(r.body.error, /producer failed on purpose/);
      }
      // Callers that were following the leader get its error; a request arriving after the
      // failure (errors are not cached) may run the producer once more in its process.
      const runs = Number(await client.get("runs:bad"));
      assert.ok(runs >= 1 && runs <= workers.length, `${runs} producer runs`);
      console.log(`throwing producer: ${runs} run(s) for 100 requests on 4 processes`);
      assert.equal(await client.exists("cache:fleet:bad"), 0);
    } finally {
      client.destroy();
      await stopFleet(workers);
    }
  },
});

/** The producer runs of `key` in the order they started: pid and epoch ms. */
async function startsOf(client: RedisClient, key: string) {
  return (await client.lRange(`starts:${key}`, 0, -1)).map((entry) => {
    const [pid, at] = String(entry).split(":").map(Number);
    return { pid, at };
  });
}

function outcomesOf(worker: Worker): Record<string, unknown>[] {
  return worker.log().split("\n").filter((l) => l.includes('"cache_fill"')).map((l) =>
    JSON.parse(l)
  );
}

Deno.test({
  name:
    "fleet: a live leader 10x slower than the old waitMs keeps its followers: 4 processes x 50 callers, one run",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using redis = await startRedis();
    // Before issue 21 a policy had waitMs 300 here: followers of a leader slower than that
    // computed for themselves (4 runs). Now they wait while it heartbeats.
    const policy: FillPolicy = { leaseMs: 1000, maxWaitMs: 30_000, pollMinMs: 5, pollMaxMs: 50 };
    const workers = await startFleet(redis.url, 4, 3000, "ok", policy);
    const client = await counter(redis.url);
    try {
      const results = await fire(workers, "slow10x", 200);
      const leaderPid = Number(await client.get("leader:slow10x"));
      for (const r of results) {
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.deepEqual(r.body, { key: "slow10x", v: "v1", by: leaderPid });
      }
      assert.equal(await client.get("runs:slow10x"), "1");
      const fills = workers.flatMap(outcomesOf);
      assert.deepEqual(
        fills.map((f) => f.outcome).sort(),
        ["follower_hit", "follower_hit", "follower_hit", "leader"],
      );
      const waits = fills.filter((f) => f.outcome === "follower_hit").map((f) => f.waitedMs);
      console.log(
        `producer 3000 ms, heartbeat 333 ms: 1 run; followers waited ${waits.join(", ")} ms`,
      );
    } finally {
      client.destroy();
      await stopFleet(workers);
    }
  },
});

Deno.test({
  name:
    "fleet: the leader SIGKILLed mid-computation is replaced once, within the liveness window; every survivor answers",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using redis = await startRedis();
    const policy: FillPolicy = { leaseMs: 2000, maxWaitMs: 60_000, pollMinMs: 5, pollMaxMs: 50 };
    // A 4 s producer: the leader is found (polled for up to 2 s on a loaded machine) and
    // killed while it surely still computes.
    const workers = await startFleet(redis.url, 4, 4000, "ok", policy);
    const client = await counter(redis.url);
    try {
      const requests = fire(workers, "kill", 80);
      let leaderPid = 0;
      for (let i = 0; i < 100 && !leaderPid; i++) {
        await delay(20);
        leaderPid = Number(await client.get("leader:kill"));
      }
      const leader = workers.find((w) => w.child.pid === leaderPid);
      assert.ok(leader, "no leader recorded its pid");
      leader.child.kill("SIGKILL");
      const killedAt = Date.now();
      const results = await requests;
      const survivors = results.filter((r) => workers[r.worker] !== leader);
      for (const r of survivors) assert.equal(r.status, 200, JSON.stringify(r.body));
      const starts = await startsOf(client, "kill");
      assert.ok(starts.length <= 2, `${starts.length} producer runs`);
      assert.equal(starts.length, 2, "the dead leader's fill was taken over");
      const takeoverMs = starts[1].at - killedAt;
      // The documented bound: the liveness window (2.5 heartbeats; 1667 ms here) and one
      // poll, plus scheduling noise on a loaded machine.
      const boundMs = livenessWindowMs(policy) + policy.pollMaxMs;
      console.log(
        `leader killed; the next run started ${takeoverMs} ms later (bound ${boundMs} ms)`,
      );
      assert.ok(takeoverMs <= boundMs + 1000, `takeover after ${takeoverMs} ms`);
      const takeovers = workers.flatMap(outcomesOf).filter((f) => f.tookOver);
      assert.deepEqual(takeovers.map((f) => f.tookOver), ["dead"]);
      assert.ok(await client.exists("cache:fleet:kill"));
    } finally {
      client.destroy();
      await stopFleet(workers);
    }
  },
});

Deno.test({
  name:
    "fleet: a live leader past maxWaitMs is taken over by one follower; no request hangs, at most one run per process",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using redis = await startRedis();
    // heartbeat 200 ms, liveness window 500 ms, cap 800 ms; the producer takes 2000 ms.
    const policy: FillPolicy = { leaseMs: 600, maxWaitMs: 800, pollMinMs: 5, pollMaxMs: 50 };
    const workers = await startFleet(redis.url, 3, 2000, "ok", policy);
    const client = await counter(redis.url);
    try {
      const results = await fire(workers, "capped", 30);
      for (const r of results) assert.equal(r.status, 200, JSON.stringify(r.body));
      const runs = Number(await client.get("runs:capped"));
      assert.ok(runs >= 2 && runs <= workers.length, `${runs} producer runs`);
      const fills = workers.flatMap(outcomesOf);
      assert.ok(fills.some((f) => f.tookOver === "cap"), JSON.stringify(fills));
      // Each request got its own process's leader value (the first leader's callers its own).
      for (const r of results) assert.equal(r.body.by, workers[r.worker].child.pid);
      // Each superseded leader's write was refused; the last leader's value is stored.
      const stored = JSON.parse((await client.get("cache:fleet:capped"))!);
      assert.equal(stored.data.by, Number(await client.get("leader:capped")));
      console.log(`cap 800 ms, producer 2000 ms: ${runs} runs; ${JSON.stringify(fills)}`);
    } finally {
      client.destroy();
      await stopFleet(workers);
    }
  },
});

Deno.test({
  name:
    "fleet: with waitMs set, followers of a live leader slower than it compute themselves; the leader's write lands",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using redis = await startRedis();
    const policy: FillPolicy = {
      leaseMs: 1000,
      maxWaitMs: 30_000,
      waitMs: 300,
      pollMinMs: 5,
      pollMaxMs: 50,
    };
    const workers = await startFleet(redis.url, 3, 1200, "ok", policy);
    const client = await counter(redis.url);
    try {
      const results = await fire(workers, "slow", 30);
      for (const r of results) assert.equal(r.status, 200);
      const runs = Number(await client.get("runs:slow"));
      assert.ok(runs <= workers.length, `${runs} producer runs`); // at most one per process
      const stored = JSON.parse((await client.get("cache:fleet:slow"))!);
      const outcomesOfWorker = (w: Worker) => outcomesOf(w).map((f) => f.outcome);
      const leaders = workers.filter((w) => outcomesOfWorker(w).includes("leader"));
      assert.equal(leaders.length, 1);
      assert.equal(stored.data.by, leaders[0].child.pid); // the leader's fenced write landed
      const outcomes = workers.flatMap(outcomesOfWorker);
      assert.equal(outcomes.filter((o) => o === "leader").length, 1, outcomes.join(","));
      console.log(
        `slow leader (1200 ms > waitMs 300): ${runs} runs, outcomes ${outcomes.join(",")}`,
      );
    } finally {
      client.destroy();
      await stopFleet(workers);
    }
  },
});

Deno.test("TimCacheC: the leader re-checks the data key after taking the lock", async () => {
  await using redis = await startRedis();
  const other = await counter(redis.url);
  const client = await counter(redis.url);
  const lines: string[] = [];
  try {
    const funcs = {
      uniquenessHashFromParams: (k: string) => k,
      versionHashFromParams: (v: string) => v,
      parseData: (d: { v: string; k: string }) => ({
        shouldStore: true,
        uniquenessHash: d.k,
        versionHash: d.v,
      }),
    };
    // Another leader writes the value between our miss and our acquisition of the lock.
    const racing = new Proxy(client, {
      get(target, property) {
        const value = Reflect.get(target, property);
        if (property === "set") {
          return async (...args: unknown[]) => {
            if ((args[2] as { condition?: string })?.condition === "NX") {
              await other.set(
                "cache:recheck:a",
                JSON.stringify({ versionHash: "1", data: { k: "a", v: "1" } }),
              );
            }
            return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const cache = new TimCacheC("recheck", funcs, {
      store: RedisStore.over(() => racing),
      fill: POLICY,
      log: (line) => lines.push(line),
    });
    let runs = 0;
    const result = await cache.getOrSet("a", "1", () => {
      runs++;
      return Promise.resolve({ k: "a", v: "1" });
    });
    assert.equal(runs, 0);
    assert.equal(result.outcome, "hit");
    assert.equal(await client.exists(lockKeyFor("cache:recheck:a", "1")), 0); // released
    assert.ok(lines.some((l) => l.includes('"outcome":"recheck_hit"')));
  } finally {
    other.destroy();
    client.destroy();
  }
});

Deno.test("TimCacheC: a paused or killed Redis in the lock path degrades to a local fill, never a failure", async () => {
  await using redis = await startRedis();
  const store = await RedisStore.connect(redis.url, {
    log: () => {},
    commandTimeoutMs: 150,
    maxReconnectDelayMs: 100,
  });
  const lines: string[] = [];
  try {
    const cache = new TimCacheC<string, string, { k: string; v: string }>("degrade", {
      uniquenessHashFromParams: (k) => k,
      versionHashFromParams: (v) => v,
      parseData: (d) => ({ shouldStore: true, uniquenessHash: d.k, versionHash: d.v }),
    }, { store, fill: POLICY, log: (line) => lines.push(line), breakerMs: 50 });
    const produce = (k: string) => () => Promise.resolve({ k, v: "1" });

    // Writes paused: the read (GET) passes, taking the lock (SET NX) times out.
    await redis.cli("CLIENT", "PAUSE", "600", "WRITE");
    const paused = await cache.getOrSet("p", "1", produce("p"));
    assert.deepEqual(paused.value, { k: "p", v: "1" });
    assert.equal(paused.outcome, "miss");
    assert.ok(lines.some((l) => l.includes('"outcome":"lock_error"')), lines.join("\n"));
    lines.length = 0;
    await delay(700);

    // A lock held by a leader in another process, then Redis killed while we follow it.
    await redis.cli("SET", lockKeyFor("cache:degrade:k", "1"), "someone-else", "PX", "60000");
    const following = cache.getOrSet("k", "1", produce("k"));
    await delay(100);
    await redis.kill();
    const killed = await following;
    assert.deepEqual(killed.value, { k: "k", v: "1" });
    assert.ok(lines.some((l) => l.includes('"outcome":"lock_error"')), lines.join("\n"));
  } finally {
    await store.close();
  }
});
