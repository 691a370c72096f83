/**
 * L1 hit throughput: `TimCacheC.getOrSet` served from the L1 (kept coherent by client
 * tracking) against BentoCache's two-tier `getOrSet` (memory L1 + Redis L2), on the same
 * redis-server and the same 1 KB value. Target (issue 4): at least 1.0x BentoCache.
 *
 * @module
 */
import { RedisStore, TimCacheC } from "../lib/mod.ts";
import { itemsPayload } from "./cache_get_bench.ts";

/** One measured row: sequential hits per second. */
export interface L1Row {
  name: string;
  opsPerS: number;
}

async function throughput(call: () => Promise<unknown>, ms = 1500): Promise<number> {
  for (let i = 0; i < 2000; i++) await call(); // warm-up
  let ops = 0;
  const started = performance.now();
  while (performance.now() - started < ms) {
    for (let i = 0; i < 500; i++) await call();
    ops += 500;
  }
  return ops / ((performance.now() - started) / 1000);
}

/** Measures both; interleaved twice so machine noise hits both alike. */
export async function benchL1(redisUrl: string): Promise<L1Row[]> {
  const value = { ...itemsPayload(1024), id: "hot", v: "1" };
  const store = await RedisStore.connect(redisUrl, { log: () => {} });
  const ours = new TimCacheC<string, string, typeof value>("bench_l1", {
    uniquenessHashFromParams: (k) => k,
    versionHashFromParams: (v) => v,
    parseData: (d) => ({ shouldStore: true, uniquenessHash: d.id, versionHash: d.v }),
  }, { store, log: () => {} });
  await ours.getOrSet("hot", "1", () => Promise.resolve(value));

  const { BentoCache, bentostore } = await import("bentocache");
  const { redisDriver } = await import("bentocache/drivers/redis");
  const { memoryDriver } = await import("bentocache/drivers/memory");
  const url = new URL(redisUrl);
  const bento = new BentoCache({
    default: "tiered",
    stores: {
      tiered: bentostore()
        .useL1Layer(memoryDriver({ maxSize: "64mb" }))
        .useL2Layer(redisDriver({ connection: { host: url.hostname, port: Number(url.port) } })),
    },
  });
  await bento.getOrSet({ key: "hot", factory: () => value, ttl: "1h" });

  const rows = { ours: [] as number[], bento: [] as number[] };
  try {
    for (let round = 0; round < 2; round++) {
      rows.ours.push(
        await throughput(() => ours.getOrSet("hot", "1", () => Promise.resolve(value))),
      );
      rows.bento.push(
        await throughput(() => bento.getOrSet({ key: "hot", factory: () => value, ttl: "1h" })),
      );
    }
  } finally {
    await bento.disconnectAll();
    await store.close();
  }
  const best = (xs: number[]) => Math.max(...xs);
  return [
    { name: "TimCacheC.getOrSet, L1 hit", opsPerS: best(rows.ours) },
    { name: "BentoCache getOrSet, L1 (memory) hit, L2 Redis", opsPerS: best(rows.bento) },
  ];
}

if (import.meta.main) {
  const { startRedis } = await import("../lib/testing/redis_server.ts");
  await using redis = await startRedis();
  for (const row of await benchL1(redis.url)) {
    console.log(row.name, Math.round(row.opsPerS), "ops/s");
  }
}
