/**
 * `TimCacheC.getMany` of 100 warm keys (L1 off, 1 KB values) against one raw `MGET` of the
 * same entries stored as plain JSON (+ `JSON.parse` of each) and against 100 sequential
 * `getOrSet` hits, on one redis-server, interleaved in rounds. A diagnostic row runs
 * `getMany` on a `persistent` cache, which skips the background TTL refresh (a `PTTL` per
 * hit, sent after the answer), to show what that refresh costs the next batch.
 *
 * Targets (issue 7): at most 1.2x MGET; at least 10x faster than sequential gets.
 *
 * @module
 */
import { createClient, type RedisClientType } from "redis";
import { TimCacheC } from "../lib/mod.ts";
import { itemsPayload } from "./cache_get_bench.ts";
import { markdownTable, mean, ms, quantile } from "./stats.ts";
import { RedisStore } from "../lib/mod.ts";

/** One measured path: latency of one batch of `keys` values. */
export interface GetManyRow {
  name: string;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

type Value = Record<string, unknown> & { id: string; v: string };

/**
 * Measures the paths.
 *
 * @param keys Keys per batch. @default {100}
 * @param rounds Interleaved rounds; each runs every path for `turnMs`. @default {8}
 * @returns Rows in order: raw MGET, getMany, getMany without TTL refresh, sequential.
 */
export async function benchGetMany(
  redisUrl: string,
  { keys = 100, rounds = 8, turnMs = 400, valueBytes = 1024 } = {},
): Promise<GetManyRow[]> {
  const client = createClient({ url: redisUrl }) as unknown as RedisClientType;
  await client.connect();
  const make = (prefix: string, persistent: boolean) =>
    new TimCacheC<string, string, Value>(prefix, {
      uniquenessHashFromParams: (k) => k,
      versionHashFromParams: (v) => v,
      parseData: (d) => ({ shouldStore: true, uniquenessHash: d.id, versionHash: d.v }),
    }, { store: RedisStore.over(() => client), l1: false, persistent, log: () => {} });
  try {
    const cache = make("bench_many", false);
    const persistent = make("bench_many_p", true);
    const payload = itemsPayload(valueBytes);
    const names = Array.from({ length: keys }, (_, i) => `po${i}`);
    const rawKeys = names.map((name) => `raw_many:${name}`);
    for (const [i, name] of names.entries()) {
      const value = { ...payload, id: name, v: "1" };
      await cache.getOrSet(name, "1", () => Promise.resolve(value));
      await persistent.getOrSet(name, "1", () => Promise.resolve(value));
      await client.set(rawKeys[i], JSON.stringify({ versionHash: "1", data: value }));
    }
    const requests = names.map((name) => ({ params: name, version: "1" }));
    const missed = () => Promise.reject(new Error("benchmark read missed"));
    const check = (values: unknown[]) => {
      if (values.length !== keys || values.some((v) => !v)) throw new Error("a batch missed");
    };
    const paths: [string, () => Promise<void>][] = [
      [`raw MGET of ${keys} + JSON.parse each`, async () => {
        const values = await client.mGet(rawKeys);
        check(values.map((v) => JSON.parse(v as string)));
      }],
      [`TimCacheC.getMany(${keys})`, async () => {
        check((await cache.getMany(requests, missed)).map((r) => r.value));
      }],
      [`TimCacheC.getMany(${keys}), persistent (no TTL refresh)`, async () => {
        check((await persistent.getMany(requests, missed)).map((r) => r.value));
      }],
      [`${keys} sequential TimCacheC.getOrSet`, async () => {
        const values = [];
        for (const name of names) values.push((await cache.getOrSet(name, "1", missed)).value);
        check(values);
      }],
    ];
    const samples: number[][] = paths.map(() => []);
    for (let round = 0; round < rounds + 1; round++) {
      for (let i = 0; i < paths.length; i++) {
        const p = (i + round) % paths.length;
        const until = performance.now() + (round === 0 ? 100 : turnMs);
        while (performance.now() < until) {
          const t0 = performance.now();
          await paths[p][1]();
          if (round > 0) samples[p].push(performance.now() - t0);
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
    await client.ping().catch(() => {});
    client.destroy();
  }
}

/** Renders the rows with ratios against MGET and against the sequential gets. */
export function formatGetMany(rows: GetManyRow[]): string {
  const [mget, , , sequential] = rows;
  return markdownTable([
    ["path", "p50", "p99", "mean", "p50 / MGET", "speed-up over sequential (p50)"],
    ...rows.map((r) => [
      r.name,
      ms(r.p50Ms),
      ms(r.p99Ms),
      ms(r.meanMs),
      `${(r.p50Ms / mget.p50Ms).toFixed(2)}x`,
      `${(sequential.p50Ms / r.p50Ms).toFixed(1)}x`,
    ]),
  ]);
}

if (import.meta.main) {
  const { startRedis } = await import("../lib/testing/redis_server.ts");
  await using redis = await startRedis();
  console.log(formatGetMany(await benchGetMany(redis.url)));
}
