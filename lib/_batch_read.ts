/**
 * `TimCacheC.getMany`'s batched read: one `MGET` for every key the L1 does not hold (on a
 * cluster, one `MGET` per hash slot, all sent at once, so one round trip per master), a
 * version check per key, and the misses filled through the cache's normal path.
 *
 * @module
 */
import type { DecodedEntry } from "./_codec.ts";
import { deepFreeze } from "./_freeze.ts";
import { byMaster } from "./_cluster.ts";
import type { RedisGuard } from "./_guard.ts";
import type { L1Cache } from "./l1.ts";
import type { CacheObservers } from "./observe.ts";
import type { CacheResult } from "./types.ts";

/** One batched read, as the cache hands it to {@linkcode readMany}. */
export interface BatchRead<T> {
  /** The cache's name, for reports. */
  cache: string;
  /** Where the reads are reported. */
  observers: CacheObservers | undefined;
  /** When the read started (`performance.now()`). */
  started: number;
  /** The hashes of each request, in the order of the results. */
  hashes: readonly { uniquenessHash: string; versionHash: string }[];
  /** The cache's guard. */
  redis: RedisGuard;
  /** The cache's L1, if any. */
  l1(): L1Cache | undefined;
  /** The Redis key of an entry. */
  keyFor(uniquenessHash: string): string;
  /** An L1 hit at this version, while Redis is usable for the key. */
  peekLocal(uniquenessHash: string, versionHash: string): T | undefined;
  /** Whether a pending clear covers the key (then it is not read from Redis). */
  covered(uniquenessHash: string): boolean;
  /** A stored entry, if it is one of the cache's and belongs under `uniquenessHash`. */
  decode(raw: string, uniquenessHash: string): DecodedEntry<T> | undefined;
  /** Refreshes the TTL of a hit where due (in the background). */
  touch(uniquenessHash: string, nowMs: number): void;
  /** Fills request `index` through the normal path (`getOrSet`). */
  fill(index: number): Promise<CacheResult<T>>;
}

/** How the `MGET` of one master falls back: its keys fill through the normal path. */
const MGET = Object.freeze({ op: "mget", skipped: undefined });

/**
 * Reads a batch (see the module doc).
 *
 * @returns One {@linkcode CacheResult} per request, in order.
 * @throws Whatever a fill throws (the other requests' fills still run).
 */
export async function readMany<T>(batch: BatchRead<T>): Promise<CacheResult<T>[]> {
  const { hashes, started } = batch;
  const results: (CacheResult<T> | undefined)[] = new Array(hashes.length);
  const fetch: number[] = [];
  for (const [index, { uniquenessHash, versionHash }] of hashes.entries()) {
    const local = batch.peekLocal(uniquenessHash, versionHash);
    if (local !== undefined) {
      results[index] = { value: local, outcome: "hit", lookupMs: 0, computeMs: 0 };
    } else if (!batch.covered(uniquenessHash)) fetch.push(index);
  }
  const client = batch.redis.redis;
  if (client && fetch.length > 0) {
    const l1 = batch.l1();
    const keys = [...new Set(fetch.map((i) => batch.keyFor(hashes[i].uniquenessHash)))];
    const epoch = l1?.epoch ?? 0;
    const byKey = new Map<string, string | null>();
    // One MGET (a cluster: one per slot, sent to each master's own connection, all
    // masters at once). A master that is down, skipped or no longer serves a slot
    // (MOVED) reads as not fetched: its keys fill through the normal path below.
    await Promise.all(
      byMaster(client, keys).map((master) =>
        batch.redis.attemptOn(master.shard, MGET, async (call) => {
          const node = await call(master.connect());
          await Promise.all(master.groups.map(async (group) => {
            const values = await call(node.mGet(group));
            for (const [i, key] of group.entries()) byKey.set(key, values[i] as string | null);
          }));
        })
      ),
    );
    const hits: string[] = [];
    const lookupMs = performance.now() - started;
    for (const index of fetch) {
      const { uniquenessHash, versionHash } = hashes[index];
      const key = batch.keyFor(uniquenessHash);
      const raw = byKey.get(key);
      const entry = raw ? batch.decode(raw, uniquenessHash) : undefined;
      if (!entry || entry.versionHash !== versionHash) continue;
      if (l1) l1.set(key, deepFreeze(entry), entry.jsonLength * 2, epoch);
      results[index] = { value: entry.data, outcome: "hit", lookupMs, computeMs: 0 };
      hits.push(uniquenessHash);
    }
    const now = performance.now();
    for (const uniquenessHash of hits) batch.touch(uniquenessHash, now);
  }
  const filled = await Promise.all(hashes.map((_, index) => results[index] ?? batch.fill(index)));
  if (batch.observers?.any) {
    for (const [index, result] of filled.entries()) {
      batch.observers.report({
        cache: batch.cache,
        op: "get_many",
        result: results[index] ? "hit" : result.outcome,
        latencyMs: performance.now() - started,
      });
    }
  }
  return filled;
}
