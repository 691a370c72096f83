/**
 * Where an L2 hit's time goes: the raw floor with each extra piece of `TimCacheC`'s hit
 * path added in turn, on one redis-server, interleaved in rounds:
 *
 * - `PTTL` sent with the `GET` (one round trip; the hit needs the TTL left to decide on a
 *   refresh);
 * - a reply deadline per call (`setTimeout` + `Promise.race`, the pattern of
 *   `lib/_guard.ts` `withDeadline`, re-implemented here because it is private);
 * - the whole `TimCacheC.getOrSet` hit (flight registration, envelope check), uncompressed
 *   and with the default compression (base64 + inflate on every hit above 4 KiB).
 *
 * A diagnostic for docs/performance.md; it has no target of its own.
 *
 * @module
 */
import { createClient, type RedisClientType } from "redis";
import { TimCacheC } from "../lib/mod.ts";
import { itemsPayload } from "./cache_get_bench.ts";
import { markdownTable, ms, quantile } from "./stats.ts";
import { RedisStore } from "../lib/mod.ts";

/** One path in one case. */
export interface HitPathRow {
  name: string;
  p50Ms: number;
  hitsPerS: number;
}

/** One case: a value size and a number of callers (caller i reads key i). */
export interface HitPathCase {
  valueBytes: number;
  callers: number;
  rows: HitPathRow[];
}

function withDeadline<T>(timeoutMs: number, call: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("deadline")), timeoutMs);
  });
  return Promise.race([call, deadline]).finally(() => clearTimeout(timer));
}

type Value = Record<string, unknown> & { id: string; v: string };

/** Measures every path for each case. */
export async function benchHitPath(
  redisUrl: string,
  {
    cases = [[1024, 1], [1024, 64], [50 * 1024, 1]] as [number, number][],
    rounds = 6,
    turnMs = 250,
  } = {},
): Promise<HitPathCase[]> {
  const client = createClient({ url: redisUrl }) as unknown as RedisClientType;
  await client.connect();
  const out: HitPathCase[] = [];
  try {
    for (const [valueBytes, callers] of cases) {
      const payload = itemsPayload(valueBytes);
      const make = (prefix: string, compressAboveBytes?: number) =>
        new TimCacheC<string, string, Value>(prefix, {
          uniquenessHashFromParams: (k) => k,
          versionHashFromParams: (v) => v,
          parseData: (d) => ({ shouldStore: true, uniquenessHash: d.id, versionHash: d.v }),
        }, { store: RedisStore.over(() => client), l1: false, compressAboveBytes, log: () => {} });
      const compressed = make(`bench_path_z_${valueBytes}`);
      const plain = make(`bench_path_p_${valueBytes}`, Infinity);
      const names = Array.from({ length: callers }, (_, i) => `k${i}`);
      const rawKeys = names.map((name) => `bench_path_raw_${valueBytes}:${name}`);
      for (const [i, name] of names.entries()) {
        const value = { ...payload, id: name, v: "1" };
        await compressed.getOrSet(name, "1", () => Promise.resolve(value));
        await plain.getOrSet(name, "1", () => Promise.resolve(value));
        await client.set(rawKeys[i], JSON.stringify({ versionHash: "1", data: value }));
      }
      const missed = () => Promise.reject(new Error("benchmark read missed"));
      const paths: [string, (i: number) => Promise<unknown>][] = [
        ["GET + JSON.parse", async (i) => JSON.parse((await client.get(rawKeys[i]))!)],
        ["GET + PTTL (one round trip) + JSON.parse", async (i) => {
          const [raw] = await Promise.all([client.get(rawKeys[i]), client.pTTL(rawKeys[i])]);
          return JSON.parse(raw!);
        }],
        [
          "deadline(GET) + JSON.parse",
          async (i) => JSON.parse((await withDeadline(1000, client.get(rawKeys[i])))!),
        ],
        ["deadline(GET + PTTL) + JSON.parse", async (i) => {
          const [raw] = await withDeadline(
            1000,
            Promise.all([client.get(rawKeys[i]), client.pTTL(rawKeys[i])]),
          );
          return JSON.parse(raw!);
        }],
        ["TimCacheC.getOrSet hit, no compression", (i) => plain.getOrSet(names[i], "1", missed)],
        [
          "TimCacheC.getOrSet hit, default compression",
          (i) => compressed.getOrSet(names[i], "1", missed),
        ],
      ];
      const samples = paths.map(() => ({ latencies: [] as number[], ms: 0 }));
      for (let round = 0; round <= rounds; round++) {
        for (let j = 0; j < paths.length; j++) {
          const p = (j + round) % paths.length;
          const started = performance.now();
          const until = started + (round === 0 ? 100 : turnMs);
          const latencies: number[] = [];
          await Promise.all(names.map(async (_, i) => {
            while (performance.now() < until) {
              const t0 = performance.now();
              await paths[p][1](i);
              latencies.push(performance.now() - t0);
            }
          }));
          if (round === 0) continue; // warm-up
          for (const x of latencies) samples[p].latencies.push(x);
          samples[p].ms += performance.now() - started;
        }
      }
      out.push({
        valueBytes,
        callers,
        rows: paths.map(([name], p) => ({
          name,
          p50Ms: quantile(samples[p].latencies, 0.5),
          hitsPerS: samples[p].latencies.length / (samples[p].ms / 1000),
        })),
      });
    }
  } finally {
    await client.ping().catch(() => {});
    client.destroy();
  }
  return out;
}

/** One table per case, each path against the first (the floor). */
export function formatHitPath(cases: HitPathCase[]): string {
  return cases.map((c) => {
    const [floor] = c.rows;
    return `### ${Math.round(c.valueBytes / 1024)} KB, ${c.callers} caller${
      c.callers > 1 ? "s (one key each)" : ""
    }\n\n` + markdownTable([
      ["path", "p50", "p50 / floor", "hits/s", "hits/s / floor"],
      ...c.rows.map((r) => [
        r.name,
        ms(r.p50Ms),
        `${(r.p50Ms / floor.p50Ms).toFixed(2)}x`,
        Math.round(r.hitsPerS).toLocaleString("en-US"),
        `${(r.hitsPerS / floor.hitsPerS).toFixed(2)}x`,
      ]),
    ]);
  }).join("\n\n");
}

if (import.meta.main) {
  const { startRedis } = await import("../lib/testing/redis_server.ts");
  await using redis = await startRedis();
  console.log(formatHitPath(await benchHitPath(redis.url)));
}
