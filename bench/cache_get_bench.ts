/**
 * `TimCacheC.get` hit latency against the floor it cannot beat: a raw node-redis `GET`
 * plus `JSON.parse` of the same 50 KB entry stored as plain JSON, on the same redis-server,
 * interleaved in rounds so machine noise hits all paths alike; the cache both with its
 * default compression (values above 4 KiB deflated) and without. Target (issue 2): p50
 * ratio at most 1.15x.
 *
 * @module
 */
import { createClient, type RedisClientType } from "redis";
import { TimCacheC } from "../lib/mod.ts";
import { mean, ms, quantile } from "./stats.ts";
import { RedisStore } from "../lib/mod.ts";

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
 * Measures the three paths.
 *
 * @param redisUrl The redis-server to use (the bench starts its own).
 * @param rounds Rounds of `perRound` calls per path.
 * @returns The raw floor first, then the cache stored compressed, then uncompressed.
 */
export async function benchGetHit(
  redisUrl: string,
  rounds = 20,
  perRound = 250,
): Promise<GetHitRow[]> {
  const client = createClient({ url: redisUrl }) as unknown as RedisClientType;
  await client.connect();
  try {
    const data = itemsPayload(50 * 1024);
    const makeCache = (prefix: string, compressAboveBytes?: number) =>
      new TimCacheC<string, string, typeof data & { id: string; v: string }>(
        prefix,
        {
          uniquenessHashFromParams: (id) => id,
          versionHashFromParams: (v) => v,
          parseData: (d) => ({ shouldStore: true, uniquenessHash: d.id, versionHash: d.v }),
        },
        { store: RedisStore.over(() => client), compressAboveBytes, log: () => {} },
      );
    // The default stores values above 4 KiB compressed; the raw floor reads the same entry
    // as plain JSON from its own key (JSON.parse of the compressed form would throw).
    const cached = makeCache("bench_get");
    const plain = makeCache("bench_get_plain", Infinity);
    const value = { ...data, id: "po", v: "1" };
    await cached.setPromise(Promise.resolve(value), "po", "1");
    await plain.setPromise(Promise.resolve(value), "po", "1");
    const rawKey = "bench_get_raw";
    await client.set(rawKey, JSON.stringify({ versionHash: "1", data: value }));
    const paths: [string, () => Promise<unknown>][] = [
      ["raw GET + JSON.parse (50 KB)", async () => JSON.parse((await client.get(rawKey))!)],
      ["TimCacheC.get hit (50 KB, stored compressed)", () => cached.get("po", "1")],
      ["TimCacheC.get hit (50 KB, compressAboveBytes: Infinity)", () => plain.get("po", "1")],
    ];
    const samples: number[][] = paths.map(() => []);
    for (let round = 0; round < rounds + 2; round++) {
      const warmup = round < 2;
      for (const [p, [, call]] of paths.entries()) {
        for (let i = 0; i < perRound; i++) {
          const t0 = performance.now();
          await call();
          const t1 = performance.now();
          if (!warmup) samples[p].push(t1 - t0);
        }
      }
    }
    return paths.map(([name], p) => ({
      name,
      p50Ms: quantile(samples[p], 0.5),
      p99Ms: quantile(samples[p], 0.99),
      meanMs: mean(samples[p]),
    }));
  } finally {
    await client.ping().catch(() => {}); // let the last hit's TTL refresh land first
    client.destroy();
  }
}

if (import.meta.main) {
  const { startRedis } = await import("../lib/testing/redis_server.ts");
  await using redis = await startRedis();
  const [raw, ...cached] = await benchGetHit(redis.url);
  for (const r of [raw, ...cached]) {
    console.log(r.name, ms(r.p50Ms), ms(r.p99Ms), ms(r.meanMs), (r.p50Ms / raw.p50Ms).toFixed(3));
  }
}
