/**
 * Failover on a real Redis Cluster (3 masters, 3 replicas, `cluster-node-timeout` 1 s): a
 * master is SIGKILLed while a TimCacheC is under load. Every request must be answered (from
 * the producer, standing for Postgres, while the slots move), and the cache must resume by
 * itself once the replica is promoted. Times are printed, not asserted.
 */
import assert from "node:assert/strict";
import { EventBus } from "./event_bus.ts";
import { connectRedis } from "./redis.ts";
import { TimCacheC } from "./tim_cache_c.ts";
import { delay } from "./testing/deferred.ts";
import { startRedisCluster } from "./testing/redis_cluster.ts";
import { RedisStore } from "./redis_store.ts";

interface Row {
  id: string;
  rev: number;
}
const funcs = {
  uniquenessHashFromParams: (id: string) => id,
  versionHashFromParams: (rev: number) => String(rev),
  parseData: (d: Row) => ({ shouldStore: true, uniquenessHash: d.id, versionHash: String(d.rev) }),
};

const KEYS = 300;
const CALLERS = 32;
const WINDOW_MS = 250;

Deno.test({
  name:
    "failover: a master SIGKILLed under load: every request answered, the hit ratio back above 90% after promotion",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using cluster = await startRedisCluster({ nodeTimeoutMs: 1000 });
    const lines: string[] = [];
    const options = {
      l1: false as const,
      commandTimeoutMs: 300,
      maxReconnectDelayMs: 200,
      topologyRefreshMs: 300,
      log: (line: string) => lines.push(line),
    };
    const redis = await connectRedis(cluster.target, options);
    // Two buses on the channel whose master is killed: the sharded subscription must move.
    const busRedis = await connectRedis(cluster.target, options);
    const publisher = new EventBus<number>("wb:events", {
      store: RedisStore.over(() => redis.ready()),
      log: () => {},
    });
    const listener = new EventBus<number>("wb:events", {
      store: RedisStore.over(() => busRedis.ready()),
      log: () => {},
    });
    const cache = new TimCacheC("failover", funcs, {
      store: RedisStore.over(() => redis.ready()),
      commandTimeoutMs: 300,
      breakerMs: 200,
      log: () => {},
    });
    let produced = 0;
    const producer = (id: string) => async () => {
      produced++;
      await delay(2); // the Postgres query
      return { id, rev: 1 };
    };
    try {
      listener.start();
      assert.ok(await listener.waitUntilSubscribed(5000));
      const received: number[] = [];
      listener.subscribe(({ message }) => received.push(message));

      for (let i = 0; i < KEYS; i++) await cache.getOrSet(`k${i}`, 1, producer(`k${i}`));
      await cluster.waitUntilHealthy(); // the replicas hold every key

      // Load: CALLERS concurrent loops of getOrSet over KEYS keys, counted per window.
      const started = performance.now();
      const windows: { hits: number; total: number }[] = [];
      const outcomes = new Map<string, number>();
      let failures = 0;
      let running = true;
      const loops = Array.from({ length: CALLERS }, async () => {
        while (running) {
          const id = `k${Math.floor(Math.random() * KEYS)}`;
          try {
            const result = await cache.getOrSet(id, 1, producer(id));
            assert.equal(result.value.id, id);
            const w = Math.floor((performance.now() - started) / WINDOW_MS);
            windows[w] ??= { hits: 0, total: 0 };
            windows[w].total++;
            if (result.outcome === "hit") windows[w].hits++;
            outcomes.set(result.outcome, (outcomes.get(result.outcome) ?? 0) + 1);
          } catch (error) {
            failures++;
            lines.push(`request failed: ${error}`);
          }
        }
      });

      await delay(1500);
      const victim = await cluster.masterOf("wb:events");
      const killedAtMs = performance.now() - started;
      await victim.kill();
      const killedWindow = Math.floor(killedAtMs / WINDOW_MS);

      // Promotion (seen by the cluster) and recovery (seen by the cache), within 30 s.
      let promotedAtMs: number | undefined;
      let recoveredAtMs: number | undefined;
      const deadline = performance.now() + 30_000;
      while (performance.now() < deadline && recoveredAtMs === undefined) {
        await delay(50);
        if (promotedAtMs === undefined) {
          const masters = await cluster.masters().catch(() => [victim]);
          if (masters.length === 3 && !masters.includes(victim)) {
            promotedAtMs = performance.now() - started;
          }
        }
        const last = Math.floor((performance.now() - started) / WINDOW_MS) - 1;
        if (promotedAtMs === undefined || last <= killedWindow) continue;
        const recent = [windows[last - 1], windows[last]];
        if (recent.every((w) => w && w.total > 0 && w.hits / w.total >= 0.9)) {
          recoveredAtMs = (last - 1) * WINDOW_MS;
        }
      }
      running = false;
      await Promise.all(loops);

      const requests = windows.reduce((sum, w) => sum + (w?.total ?? 0), 0);
      const dip = Math.min(
        ...windows.slice(killedWindow).filter(Boolean).map((w) => w.hits / w.total),
      );
      console.log(
        `${requests} requests (${CALLERS} callers, ${KEYS} keys), ${failures} failed; ` +
          `outcomes ${JSON.stringify(Object.fromEntries(outcomes))}; ` +
          `master :${victim.port} killed at ${(killedAtMs / 1000).toFixed(2)} s; ` +
          `replica promoted ${
            promotedAtMs === undefined
              ? "never"
              : `${((promotedAtMs - killedAtMs) / 1000).toFixed(2)} s`
          } later; hit ratio back above 90% ${
            recoveredAtMs === undefined
              ? "never"
              : `${((recoveredAtMs - killedAtMs) / 1000).toFixed(2)} s after the kill`
          } (lowest ${(dip * 100).toFixed(0)}% per ${WINDOW_MS} ms window)`,
      );
      console.log(
        "hit ratio per window after the kill: " +
          windows.slice(killedWindow, killedWindow + 40).map((w) =>
            w ? `${Math.round((100 * w.hits) / w.total)}` : "-"
          ).join(" "),
      );
      assert.equal(failures, 0, lines.filter((l) => l.startsWith("request failed")).join("\n"));
      assert.ok(promotedAtMs !== undefined, "no replica was promoted within 30 s");
      assert.ok(recoveredAtMs !== undefined, "the hit ratio did not recover within 30 s");

      // The sharded subscription followed its slot to the promoted replica.
      const busDeadline = performance.now() + 15_000;
      while (!received.includes(7) && performance.now() < busDeadline) {
        await publisher.publish(7);
        await delay(100);
      }
      assert.ok(received.includes(7), "the bus did not deliver after the failover");
      console.log(
        `event bus: delivered again ${
          ((performance.now() - started - killedAtMs) / 1000).toFixed(2)
        } s after the kill`,
      );
    } finally {
      await publisher.close();
      await listener.close();
      await busRedis.close();
      await redis.close();
    }
  },
});
