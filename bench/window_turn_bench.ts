/**
 * Request latency during a window turn: 16 concurrent callers (each pausing 1 ms between
 * requests, as requests arriving through I/O do) keep reading a memoized
 * aggregate (a 200 ms producer) through StaleWhileRevalidate on Redis while the window
 * turns under them. Target (issue 4): no request waits for the producer (max latency
 * well below the producer's time).
 *
 * @module
 */
import { RedisStore, StaleWhileRevalidate } from "../lib/mod.ts";
import { quantile } from "./stats.ts";

/** Latencies of the calls made after the turn, until the refresh landed. */
export interface WindowTurnRow {
  calls: number;
  staleServed: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  producerMs: number;
  producerRuns: number;
}

/** Runs the turn once. */
export async function benchWindowTurn(redisUrl: string, producerMs = 200): Promise<WindowTurnRow> {
  const store = await RedisStore.connect(redisUrl, { log: () => {} });
  const windowMs = 60_000;
  let now = 1_900_000_000_000 - (1_900_000_000_000 % windowMs) + 1_000;
  const memo = new StaleWhileRevalidate({
    tenant: "bench",
    store,
    clock: () => now,
    log: () => {},
  });
  let runs = 0;
  const producer = async () => {
    runs++;
    await new Promise((r) => setTimeout(r, producerMs));
    return { runs, rows: Array.from({ length: 500 }, (_, i) => ({ i, v: i * 3 })) };
  };
  try {
    await memo.memo("overview", windowMs, producer); // cold fill, before the measurement
    now += windowMs; // the window turns
    const latencies: number[] = [];
    let stale = 0;
    const until = performance.now() + producerMs * 3;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (performance.now() < until) {
        const started = performance.now();
        const result = await memo.memo("overview", windowMs, producer);
        latencies.push(performance.now() - started);
        if (result.state === "stale") stale++;
        // Requests arrive through I/O: yield to the event loop between two of them
        // (an all-microtask loop of L1 hits would starve the refresh's timers).
        await new Promise((r) => setTimeout(r, 1));
      }
    }));
    await memo.settled();
    return {
      calls: latencies.length,
      staleServed: stale,
      p50Ms: quantile(latencies, 0.5),
      p99Ms: quantile(latencies, 0.99),
      maxMs: latencies.reduce((a, b) => Math.max(a, b), 0),
      producerMs,
      producerRuns: runs - 1,
    };
  } finally {
    await store.close();
  }
}

if (import.meta.main) {
  const { startRedis } = await import("../lib/testing/redis_server.ts");
  await using redis = await startRedis();
  console.log(await benchWindowTurn(redis.url));
}
