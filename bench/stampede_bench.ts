/**
 * The stampede: `processes` processes x `callers` concurrent callers on one cold key with
 * a `producerMs` producer, on one redis-server, for this project's cache and its peers.
 * Reports producer runs across the fleet and caller latency over the producer's time.
 * Targets (issue 3): exactly 1 run for this project (peers protect only their own
 * process: one run per process); p99 at most 1.3x the producer's time.
 *
 * @module
 */
import { createClient, type RedisClientType } from "redis";
import { quantile } from "./stats.ts";

/** One library's stampede result. */
export interface StampedeRow {
  library: string;
  runs: number;
  p50Ms: number;
  p99Ms: number;
  p99OverProducer: number;
}

/** Runs the stampede for each library in turn on the same redis-server. */
export async function benchStampede(
  redisUrl: string,
  { processes = 4, callers = 250, producerMs = 200 } = {},
  libraries = ["tim", "bentocache", "cache-manager"],
): Promise<StampedeRow[]> {
  const client = createClient({ url: redisUrl }) as unknown as RedisClientType;
  await client.connect();
  const rows: StampedeRow[] = [];
  try {
    for (const library of libraries) {
      await client.flushDb();
      const key = `stampede-${library}`;
      const startAt = Date.now() + 3000; // every process is up and connected by then
      const outputs = await Promise.all(
        Array.from({ length: processes }, () =>
          new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "-A",
              new URL("./stampede_worker.ts", import.meta.url).pathname,
              library,
              redisUrl,
              key,
              String(callers),
              String(producerMs),
              String(startAt),
            ],
            stdout: "piped",
            stderr: "piped",
          }).output()),
      );
      const latencies: number[] = [];
      for (const output of outputs) {
        const text = new TextDecoder().decode(output.stdout).trim().split("\n").pop() ?? "";
        if (output.code !== 0 || !text.startsWith("{")) {
          throw new Error(`${library} worker failed:\n${new TextDecoder().decode(output.stderr)}`);
        }
        latencies.push(...JSON.parse(text).latencies);
      }
      const p99 = quantile(latencies, 0.99);
      rows.push({
        library: library === "tim" ? "TimCacheC (fleet fill lock)" : library,
        runs: Number(await client.get(`runs:${key}`)),
        p50Ms: quantile(latencies, 0.5),
        p99Ms: p99,
        p99OverProducer: p99 / producerMs,
      });
    }
  } finally {
    client.destroy();
  }
  return rows;
}

if (import.meta.main) {
  const { startRedis } = await import("../lib/testing/redis_server.ts");
  await using redis = await startRedis();
  for (const row of await benchStampede(redis.url)) console.log(row);
}
