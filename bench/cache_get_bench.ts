/**
 * `TimCacheC.get` hit latency against the floor it cannot beat: a raw node-redis `GET`
 * plus `JSON.parse` of the same stored 50 KB value, on the same redis-server, interleaved
 * in rounds so machine noise hits both alike. Target (issue 2): p50 ratio at most 1.15x.
 *
 * @module
 */
import { createClient } from "redis";
import { type RedisClient, TimCacheC } from "../lib/mod.ts";
import { mean, ms, quantile } from "./stats.ts";

/** One measured row. */
export interface GetHitRow {
  name: string;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

/** A JSON value of about `bytes` bytes shaped like presentation-object items. */
export function itemsPayload(
  bytes: number,
): { status: string; items: Record<string, string | number>[] } {
  const items: Record<string, string | number>[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const item = {
      admin_area_3: `LGA ${i % 44}`,
      indicator_id: `ind${i % 12}`,
      period_id: 202001 + (i % 60),
      count: (i * 7919) % 5000,
    };
    items.push(item);
    size += JSON.stringify(item).length + 1;
  }
  return { status: "ok", items };
}

/**
 * Measures both paths.
 *
 * @param redisUrl The redis-server to use (the bench starts its own).
 * @param rounds Rounds of `perRound` calls per path.
 */
export async function benchGetHit(
  redisUrl: string,
  rounds = 20,
  perRound = 250,
): Promise<GetHitRow[]> {
  const client = createClient({ url: redisUrl }) as unknown as RedisClient;
  await client.connect();
  try {
    const data = itemsPayload(50 * 1024);
    const cache = new TimCacheC<string, string, typeof data & { id: string; v: string }>(
      "bench_get",
      {
        uniquenessHashFromParams: (id) => id,
        versionHashFromParams: (v) => v,
        parseData: (d) => ({ shouldStore: true, uniquenessHash: d.id, versionHash: d.v }),
      },
      { redis: () => client },
    );
    await cache.setPromise(Promise.resolve({ ...data, id: "po", v: "1" }), "po", "1");
    const key = cache.keyFor("po");
    const raw: number[] = [];
    const cached: number[] = [];
    for (let round = 0; round < rounds + 2; round++) {
      const warmup = round < 2;
      for (let i = 0; i < perRound; i++) {
        const t0 = performance.now();
        JSON.parse((await client.get(key)) as string);
        const t1 = performance.now();
        if (!warmup) raw.push(t1 - t0);
      }
      for (let i = 0; i < perRound; i++) {
        const t0 = performance.now();
        await cache.get("po", "1");
        const t1 = performance.now();
        if (!warmup) cached.push(t1 - t0);
      }
    }
    const row = (name: string, samples: number[]): GetHitRow => ({
      name,
      p50Ms: quantile(samples, 0.5),
      p99Ms: quantile(samples, 0.99),
      meanMs: mean(samples),
    });
    return [row("raw GET + JSON.parse (50 KB)", raw), row("TimCacheC.get hit (50 KB)", cached)];
  } finally {
    await client.ping().catch(() => {}); // let the last hit's TTL refresh land first
    client.destroy();
  }
}

if (import.meta.main) {
  const { startRedis } = await import("../lib/testing/redis_server.ts");
  await using redis = await startRedis();
  const [raw, cached] = await benchGetHit(redis.url);
  for (const r of [raw, cached]) console.log(r.name, ms(r.p50Ms), ms(r.p99Ms), ms(r.meanMs));
  console.log("ratio p50", (cached.p50Ms / raw.p50Ms).toFixed(3));
}
