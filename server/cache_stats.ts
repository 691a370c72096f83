/**
 * What the administrators' cache page shows: per cache prefix, the keys in Redis, their
 * memory, the hit ratio of this process, and the last flush.
 *
 * - **Keys**: one `SCAN MATCH cache:* COUNT 1000` pass (on every master of a cluster),
 *   grouped by prefix, bounded by `maxKeys` and `budgetMs` (`truncated` says when a bound
 *   stopped it, and the counts are then lower bounds).
 * - **Memory**: `MEMORY USAGE` of up to `sampleKeys` keys per prefix, averaged and scaled
 *   to the key count (`memorySampled` keys back the estimate).
 * - **Hit ratio**: hits / (hits + misses) of this process since it started, counted by a
 *   cache observer (`lib/observe.ts`); bypasses (Redis down or off) are shown apart.
 *
 * @module
 */
import {
  CACHE_KEY_PATTERN,
  type CacheObservers,
  type CacheOperation,
  cachePrefixOf,
  type RedisNodeClient,
  type RedisStore,
  scanPages,
} from "../lib/mod.ts";
import type { FlushLog } from "./cache_flush.ts";
import type { CacheStats, ReadCounts } from "./wire.ts";

export type { CacheStats, PrefixStats, ReadCounts } from "./wire.ts";

/** Counts cache reads per cache, from the library's operation reports. */
export class CacheCounters {
  readonly #counts = new Map<string, ReadCounts>();
  readonly #uninstall: () => void;
  /** When counting started (epoch ms). */
  readonly sinceMs = Date.now();

  /** @param observers The store's observers (`store.observers`): its caches' reads are counted. */
  constructor(observers: CacheObservers) {
    this.#uninstall = observers.add((operation: CacheOperation) => {
      const { op, result } = operation;
      if (op !== "get" && op !== "get_or_set" && op !== "get_many") return;
      if (result !== "hit" && result !== "miss" && result !== "bypass") return;
      let counts = this.#counts.get(operation.cache);
      if (!counts) this.#counts.set(operation.cache, counts = { hits: 0, misses: 0, bypass: 0 });
      counts[result === "hit" ? "hits" : result === "miss" ? "misses" : "bypass"]++;
    });
  }

  /** The counts of one cache (zeros when it was not read). */
  of(cache: string): ReadCounts {
    return { ...(this.#counts.get(cache) ?? { hits: 0, misses: 0, bypass: 0 }) };
  }

  /** Every cache read so far. */
  caches(): string[] {
    return [...this.#counts.keys()];
  }

  /** Stops counting. */
  uninstall(): void {
    this.#uninstall();
  }
}

/** Options of {@linkcode collectCacheStats}. */
export interface CacheStatsOptions {
  /** The instance's Redis (its status, masters, guard and L1). */
  store: RedisStore;
  counters: CacheCounters;
  flushLog: FlushLog;
  /** Prefixes always listed (the server's caches), even with no keys. */
  prefixes: readonly string[];
  /** Keys scanned at most. @default {200_000} */
  maxKeys?: number;
  /** Time the scan may take, in ms. @default {2000} */
  budgetMs?: number;
  /** Keys per prefix whose memory is read. @default {20} */
  sampleKeys?: number;
  /** `SCAN … COUNT`: keys asked for per call. @default {1000} */
  scanCount?: number;
}

/**
 * Collects the report.
 *
 * @returns The report; Redis errors leave `redis: "down"` and the counts this process has.
 */
export async function collectCacheStats(options: CacheStatsOptions): Promise<CacheStats> {
  const maxKeys = options.maxKeys ?? 200_000;
  const budgetMs = options.budgetMs ?? 2000;
  const sampleKeys = options.sampleKeys ?? 20;
  const scanCount = options.scanCount ?? 1000;
  const started = performance.now();
  const keys = new Map<string, number>();
  const samples = new Map<string, { shard: object; node: RedisNodeClient; key: string }[]>();
  let scanned = 0;
  let truncated = false;
  const store = options.store;
  let redisState: CacheStats["redis"] = store.status();
  let usedMemory: number | null = null;
  const memory = new Map<string, { bytes: number; sampled: number }>();
  if (redisState === "up") {
    // Each command within 1 s; a master that times out is skipped by the caches for a while too.
    const guard = store.guard({ commandTimeoutMs: 1000 });
    try {
      const nodes = await Promise.all(
        store.masters().map(async (master) => ({
          shard: master.shard,
          node: await guard.on(master.shard, master.connect()),
        })),
      );
      const scan = { MATCH: CACHE_KEY_PATTERN, COUNT: scanCount };
      masters: for (const { shard, node } of nodes) {
        const call = <R>(command: Promise<R>) => guard.on(shard, command);
        for await (const page of scanPages(node, scan, call)) {
          for (const key of page.keys) {
            const prefix = cachePrefixOf(key);
            if (prefix === undefined) continue;
            keys.set(prefix, (keys.get(prefix) ?? 0) + 1);
            const sample = samples.get(prefix) ?? [];
            if (sample.length < sampleKeys) samples.set(prefix, [...sample, { shard, node, key }]);
          }
          scanned += page.keys.length;
          if (scanned >= maxKeys || performance.now() - started > budgetMs) {
            truncated = !page.done;
            if (truncated) break masters;
          }
        }
      }
      for (const [prefix, sample] of samples) {
        const sizes = await Promise.all(
          sample.map(({ shard, node, key }) =>
            guard.on(shard, node.memoryUsage(key)).catch(() => null)
          ),
        );
        const known = sizes.filter((size): size is number => typeof size === "number");
        memory.set(prefix, {
          bytes: known.reduce((sum, size) => sum + size, 0),
          sampled: known.length,
        });
      }
      usedMemory = 0;
      for (const { shard, node } of nodes) {
        const info = await guard.on(shard, node.info("memory"));
        usedMemory += Number(/used_memory:(\d+)/.exec(String(info))?.[1] ?? 0);
      }
    } catch {
      redisState = "down";
    }
  }
  const prefixes = [
    ...new Set([...options.prefixes, ...keys.keys(), ...options.counters.caches()]),
  ].sort();
  return {
    redis: redisState,
    redisUsedMemoryBytes: usedMemory,
    prefixes: prefixes.map((prefix) => {
      const counts = options.counters.of(prefix);
      const count = keys.get(prefix) ?? 0;
      const sampled = memory.get(prefix);
      const reads = counts.hits + counts.misses;
      return {
        prefix,
        keys: count,
        memoryBytes: redisState !== "up"
          ? null
          : sampled && sampled.sampled > 0
          ? Math.round(sampled.bytes / sampled.sampled * count)
          : 0,
        memorySampled: sampled?.sampled ?? 0,
        ...counts,
        hitRatio: reads === 0 ? null : counts.hits / reads,
      };
    }),
    scannedKeys: scanned,
    truncated,
    scanMs: Math.round(performance.now() - started),
    l1: store.l1?.stats() ?? null,
    lastFlush: (await options.flushLog.last()) ?? null,
    countsSince: new Date(options.counters.sinceMs).toISOString(),
  };
}
