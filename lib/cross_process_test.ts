/**
 * Cross-process behaviour on one real redis-server: the stale-while-revalidate memo
 * across 3 processes, and L1 coherence between processes.
 */
import assert from "node:assert/strict";
import { closeRedis, initRedis } from "./redis.ts";
import { TimCacheC } from "./tim_cache_c.ts";
import { delay } from "./testing/deferred.ts";
import { freePort, startRedis } from "./testing/redis_server.ts";

async function startWorkers(redisUrl: string, count: number) {
  return await Promise.all(Array.from({ length: count }, async () => {
    const port = freePort();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./testdata/cache_worker.ts", import.meta.url).pathname,
        redisUrl,
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

Deno.test({
  name:
    "memo across 3 processes: after the window turns, all serve stale at once and one refresh runs",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using redis = await startRedis();
    const workers = await startWorkers(redis.url, 3);
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
      assert.equal(await redis.cli("GET", "swr_runs:overview"), "2");
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
  },
});

Deno.test({
  name: "L1 coherence: a value changed by one process stops being served by another's L1",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using redis = await startRedis();
    const [other] = await startWorkers(redis.url, 1);
    await initRedis(redis.url, { log: () => {}, l1: false });
    try {
      const cache = new TimCacheC<string, string, { key: string; v: string; n: number }>("l1test", {
        uniquenessHashFromParams: (k) => k,
        versionHashFromParams: (v) => v,
        parseData: (d) => ({ shouldStore: true, uniquenessHash: d.key, versionHash: d.v }),
      }, { log: () => {} });
      await cache.setPromise(Promise.resolve({ key: "hot", v: "1", n: 1 }), "hot", "1");
      assert.equal((await other.get("/get?key=hot")).body.n, 1);
      const hitsBefore = Number((await other.get("/get?key=hot")).headers.get("x-l1-hits"));
      assert.equal(
        Number((await other.get("/get?key=hot")).headers.get("x-l1-hits")),
        hitsBefore + 1,
      );

      // This process writes a new value (L1 TTL in the other process: 10 minutes).
      const changedAt = performance.now();
      await cache.setPromise(Promise.resolve({ key: "hot", v: "1", n: 2 }), "hot", "1");
      let seen = 1;
      for (let i = 0; i < 200 && seen !== 2; i++) {
        seen = (await other.get("/get?key=hot")).body.n;
        if (seen !== 2) await delay(5);
      }
      assert.equal(seen, 2);
      console.log(
        `the other process's L1 served the new value ${
          (performance.now() - changedAt).toFixed(1)
        } ms after the write`,
      );

      // A FLUSHDB (flush-all) empties every L1 too.
      await redis.cli("FLUSHDB");
      let after: unknown = "stale";
      for (let i = 0; i < 200 && after !== null; i++) {
        after = (await other.get("/get?key=hot")).body;
        if (after !== null) await delay(5);
      }
      assert.equal(after, null);
    } finally {
      await closeRedis();
      await stop([other]);
    }
  },
});
