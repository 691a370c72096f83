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
import type { CacheObservers, CacheOperation, L1Cache, L1Stats, RedisClient } from "../lib/mod.ts";
import type { FlushLog, FlushRecord } from "./cache_flush.ts";
import { withDeadline } from "./deadline.ts";

/** Reads of one cache in this process. */
export interface ReadCounts {
  hits: number;
  misses: number;
  bypass: number;
}

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

/** One prefix's row. */
export interface PrefixStats extends ReadCounts {
  prefix: string;
  /** Keys `cache:<prefix>:*` found (a lower bound when truncated). */
  keys: number;
  /** Estimated bytes (sampled `MEMORY USAGE` × keys), or null without Redis. */
  memoryBytes: number | null;
  /** Keys whose `MEMORY USAGE` was read. */
  memorySampled: number;
  /** hits / (hits + misses), or null before the first read. */
  hitRatio: number | null;
}

/** The whole report. */
export interface CacheStats {
  /** `up`, `down` (configured, not answering) or `disabled`. */
  redis: "up" | "down" | "disabled";
  /** Redis `used_memory` in bytes, when Redis answered. */
  redisUsedMemoryBytes: number | null;
  prefixes: PrefixStats[];
  /** Keys the scan looked at. */
  scannedKeys: number;
  /** Whether a bound stopped the scan before the end. */
  truncated: boolean;
  /** How long the scan took, in ms. */
  scanMs: number;
  /** The in-process L1 in front of Redis. */
  l1: L1Stats | null;
  lastFlush: FlushRecord | null;
  /** Since when the hit counts run (ISO-8601; this process's start). */
  countsSince: string;
}

/** Options of {@linkcode collectCacheStats}. */
export interface CacheStatsOptions {
  redis: RedisClient | undefined;
  /** Whether Redis is configured (to tell `down` from `disabled`). */
  redisConfigured: boolean;
  /** The store's L1, if on. */
  l1: L1Cache | undefined;
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

/** The commands of one Redis node used here. */
interface NodeCommands {
  scan(
    cursor: string,
    options: { MATCH: string; COUNT: number },
  ): Promise<{ cursor: string | number; keys: string[] }>;
  memoryUsage(key: string): Promise<number | null>;
  info(section?: string): Promise<string>;
}

interface ClusterCommands {
  masters: unknown[];
  nodeClient(node: unknown): Promise<NodeCommands>;
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
  const samples = new Map<string, { node: NodeCommands; key: string }[]>();
  let scanned = 0;
  let truncated = false;
  let redisState: CacheStats["redis"] = options.redis
    ? "up"
    : options.redisConfigured
    ? "down"
    : "disabled";
  let usedMemory: number | null = null;
  const memory = new Map<string, { bytes: number; sampled: number }>();
  if (options.redis) {
    try {
      const nodes = await nodesOf(options.redis);
      for (const node of nodes) {
        let cursor = "0";
        do {
          const reply = await withDeadline(
            node.scan(cursor, { MATCH: "cache:*", COUNT: scanCount }),
            1000,
          );
          cursor = String(reply.cursor);
          for (const key of reply.keys) {
            const prefix = key.split(":", 2)[1] ?? "";
            keys.set(prefix, (keys.get(prefix) ?? 0) + 1);
            const sample = samples.get(prefix) ?? [];
            if (sample.length < sampleKeys) samples.set(prefix, [...sample, { node, key }]);
          }
          scanned += reply.keys.length;
          if (scanned >= maxKeys || performance.now() - started > budgetMs) {
            truncated = cursor !== "0";
            break;
          }
        } while (cursor !== "0");
        if (truncated) break;
      }
      for (const [prefix, sample] of samples) {
        const sizes = await Promise.all(
          sample.map(({ node, key }) =>
            withDeadline(node.memoryUsage(key), 1000).catch(() => null)
          ),
        );
        const known = sizes.filter((size): size is number => typeof size === "number");
        memory.set(prefix, {
          bytes: known.reduce((sum, size) => sum + size, 0),
          sampled: known.length,
        });
      }
      usedMemory = 0;
      for (const node of nodes) {
        const info = await withDeadline(node.info("memory"), 1000);
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
    l1: options.l1?.stats() ?? null,
    lastFlush: (await options.flushLog.last()) ?? null,
    countsSince: new Date(options.counters.sinceMs).toISOString(),
  };
}

/** The node clients to scan: the client itself, or every master of a cluster. */
async function nodesOf(redis: RedisClient): Promise<NodeCommands[]> {
  const cluster = redis as unknown as Partial<ClusterCommands>;
  if (Array.isArray(cluster.masters) && typeof cluster.nodeClient === "function") {
    return await Promise.all(cluster.masters.map((master) => cluster.nodeClient!(master)));
  }
  return [redis as unknown as NodeCommands];
}
