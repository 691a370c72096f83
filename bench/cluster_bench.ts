/**
 * The same workload on a Redis Cluster (3 masters, 3 replicas, all on this machine) and on
 * one redis-server, in the same run, interleaved in rounds: `callers` concurrent
 * `TimCacheC.getOrSet` hits over `keys` warm keys (1 KB values, L1 off, so every call is a
 * Redis round trip), and `getMany` of 100 of those keys (one MGET on a node; one MGET per
 * slot, to every master at once, on the cluster).
 *
 * The cluster is not expected to be faster on one machine: its masters share the same
 * cores as the single node and the client, and each command is routed by slot. What it
 * buys is memory and CPU beyond one node, and failover (see `lib/cluster_failover_test.ts`).
 *
 * @module
 */
import { connectRedis, type RedisConnection, type RedisTarget, TimCacheC } from "../lib/mod.ts";
import { itemsPayload } from "./cache_get_bench.ts";
import { markdownTable, ms, quantile } from "./stats.ts";
import { RedisStore } from "../lib/mod.ts";

/** One path on one target. */
export interface ClusterBenchRow {
  workload: string;
  target: "one node" | "cluster";
  opsPerS: number;
  p50Ms: number;
  p99Ms: number;
}

/** Options of {@linkcode benchCluster}. */
export interface ClusterBenchOptions {
  /** Concurrent callers. @default {64} */
  callers?: number;
  /** Warm keys the callers pick from. @default {1000} */
  keys?: number;
  /** Interleaved rounds. @default {6} */
  rounds?: number;
  /** Duration of one target's turn in a round, in ms. @default {500} */
  turnMs?: number;
}

type Value = Record<string, unknown> & { id: string; v: string };

/**
 * Measures both workloads on both targets.
 *
 * @param singleUrl One redis-server.
 * @param cluster The cluster's seed nodes.
 * @returns Rows: each workload on one node, then on the cluster.
 */
export async function benchCluster(
  singleUrl: string,
  cluster: RedisTarget,
  { callers = 64, keys = 1000, rounds = 6, turnMs = 500 }: ClusterBenchOptions = {},
): Promise<ClusterBenchRow[]> {
  const connections: RedisConnection[] = [];
  try {
    const targets: { name: ClusterBenchRow["target"]; cache: TimCacheC<string, string, Value> }[] =
      [];
    for (const [name, target] of [["one node", singleUrl], ["cluster", cluster]] as const) {
      const redis = await connectRedis(target, { l1: false, log: () => {} });
      connections.push(redis);
      const cache = new TimCacheC<string, string, Value>("bench_cluster", {
        uniquenessHashFromParams: (k) => k,
        versionHashFromParams: (v) => v,
        parseData: (d) => ({ shouldStore: true, uniquenessHash: d.id, versionHash: d.v }),
      }, { store: RedisStore.over(() => redis.client), l1: false, log: () => {} });
      targets.push({ name, cache });
    }
    const payload = itemsPayload(1024);
    const ids = Array.from({ length: keys }, (_, i) => `po${i}`);
    for (const { cache } of targets) {
      await Promise.all(
        ids.map((id) => cache.getOrSet(id, "1", () => Promise.resolve({ ...payload, id, v: "1" }))),
      );
    }
    const missed = () => Promise.reject(new Error("benchmark read missed"));
    const workloads = [
      {
        name: `${callers} callers, getOrSet hits over ${keys} keys`,
        callers,
        run: (cache: TimCacheC<string, string, Value>, caller: number, i: number) =>
          cache.getOrSet(ids[(caller * 7919 + i * 31) % keys], "1", missed),
      },
      {
        name: `${callers / 8} callers, getMany(100) over ${keys} keys`,
        callers: callers / 8,
        run: (cache: TimCacheC<string, string, Value>, caller: number, i: number) => {
          const start = ((caller * 131 + i) * 100) % keys;
          const batch = Array.from({ length: 100 }, (_, j) => ({
            params: ids[(start + j) % keys],
            version: "1",
          }));
          return cache.getMany(batch, missed);
        },
      },
    ];
    const rows: ClusterBenchRow[] = [];
    for (const workload of workloads) {
      const samples = targets.map(() => ({ latencies: [] as number[], calls: 0, ms: 0 }));
      const drive = async (index: number, durationMs: number) => {
        const { cache } = targets[index];
        const started = performance.now();
        const until = started + durationMs;
        const latencies: number[] = [];
        await Promise.all(Array.from({ length: workload.callers }, async (_, caller) => {
          for (let i = 0; performance.now() < until; i++) {
            const t0 = performance.now();
            await workload.run(cache, caller, i);
            latencies.push(performance.now() - t0);
          }
        }));
        return { latencies, elapsedMs: performance.now() - started };
      };
      for (let i = 0; i < targets.length; i++) await drive(i, 200); // warm-up
      for (let round = 0; round < rounds; round++) {
        for (let k = 0; k < targets.length; k++) {
          const index = (k + round) % targets.length;
          const { latencies, elapsedMs } = await drive(index, turnMs);
          for (const x of latencies) samples[index].latencies.push(x);
          samples[index].calls += latencies.length;
          samples[index].ms += elapsedMs;
        }
      }
      for (const [index, { name }] of targets.entries()) {
        const s = samples[index];
        rows.push({
          workload: workload.name,
          target: name,
          opsPerS: s.calls / (s.ms / 1000),
          p50Ms: quantile(s.latencies, 0.5),
          p99Ms: quantile(s.latencies, 0.99),
        });
      }
    }
    return rows;
  } finally {
    for (const connection of connections) await connection.close();
  }
}

/** Renders the rows as Markdown, with the cluster's throughput as a ratio of one node's. */
export function formatCluster(rows: ClusterBenchRow[]): string {
  return markdownTable([
    ["workload", "Redis", "calls/s", "p50", "p99", "calls/s vs one node"],
    ...rows.map((r) => {
      const single = rows.find((x) => x.workload === r.workload && x.target === "one node")!;
      return [
        r.workload,
        r.target === "cluster" ? "cluster (3 masters + 3 replicas)" : "one node",
        Math.round(r.opsPerS).toLocaleString("en-US"),
        ms(r.p50Ms),
        ms(r.p99Ms),
        `${(r.opsPerS / single.opsPerS).toFixed(2)}x`,
      ];
    }),
  ]);
}

if (import.meta.main) {
  const { startRedis } = await import("../lib/testing/redis_server.ts");
  const { startRedisCluster } = await import("../lib/testing/redis_cluster.ts");
  await using redis = await startRedis();
  await using cluster = await startRedisCluster();
  console.log(formatCluster(await benchCluster(redis.url, cluster.target)));
}
