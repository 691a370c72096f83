/**
 * The options of `TimCacheC`, with their units and defaults (re-exported by
 * `tim_cache_c.ts`).
 *
 * @module
 */
import type { FillPolicy } from "./fill_policy.ts";
import type { L1Cache } from "./l1.ts";
import type { RedisStore } from "./redis_store.ts";
import type { VersionedCacheOptions } from "./_store_contract.ts";
import type { DataCodec } from "./_codec.ts";

/** One day, in seconds: the unit of the TTL defaults. */
export const DAY_S = 24 * 60 * 60;

/** Options of `TimCacheC`. */
export interface TimCacheCOptions<T = unknown> extends VersionedCacheOptions {
  /**
   * The instance's Redis (required): the client, its L1, the breakers and deadlines, the
   * observers and the flush registry (see `RedisStore`).
   */
  store: RedisStore;
  /**
   * Store without a TTL and never refresh one: for immutable records (content-addressed
   * or finished). Bounded by Redis's `maxmemory` eviction only. @default {false}
   */
  persistent?: boolean;
  /** Shortest write TTL, in seconds. @default {15 days} */
  minWriteTtlS?: number;
  /** Longest write TTL, in seconds. @default {30 days} */
  maxWriteTtlS?: number;
  /** TTL set again on a hit, in seconds. @default {30 days} */
  readRefreshTtlS?: number;
  /**
   * A process refreshes a key's TTL on a hit at most once per this many seconds (so the
   * TTL stays above `readRefreshTtlS` minus this while the key is read). The refresh is a
   * write: Redis invalidates the key in every process's L1 (client tracking), so
   * refreshing on every hit would empty the L1s. A rewrite by this process resets it; a
   * rewrite by another process is refreshed at most this late. @default {1 day}
   */
  readRefreshSlackS?: number;
  /**
   * Values whose JSON is longer than this are stored compressed (deflate-raw level 6,
   * base64, prefix `z1:`; see docs/performance.md for the codec measurements), in bytes.
   * @default {4096}
   */
  compressAboveBytes?: number;
  /**
   * How the cache's data is written into its entries' JSON and read back (default:
   * `JSON.stringify` / `JSON.parse`). A codec that writes an already serialized body in
   * place and reads it back as text saves a large entry an escape and a parse.
   */
  dataCodec?: DataCodec<T>;
  /**
   * Values whose JSON is longer than this are compressed by the store's worker
   * (`RedisStore.deflate`), off the event loop, in bytes: deflating 1.3 MB holds the thread
   * 5 to 25 ms, and every request waits behind it. `Infinity` compresses on this thread.
   * @default {131072}
   */
  offThreadAboveBytes?: number;
  /**
   * Values longer than this once encoded are not stored (reported as `set`/`too_large`),
   * and stored entries that would inflate past it are broken (a miss), in bytes.
   * @default {16 MiB}
   */
  maxValueBytes?: number;
  /**
   * Keys deleted per command during `clearAll` at most: members read from the cache's key
   * index and unlinked per call (one node, `_key_index.ts`; fewer when `clearCommandUs`
   * says so), or keys asked per `SCAN` and deleted per `UNLINK` when it scans.
   * @default {100}
   */
  clearBatchSize?: number;
  /**
   * Server time each call of a `clearAll` that drains the key index aims at, in µs: its
   * batch is sized from the server time the previous calls reported, so that another
   * client's command waits one to two such calls behind the clear (docs/performance.md,
   * "`clearAll` at national size": 75 µs kept the clear above 150k keys/s on a loaded
   * 2-core machine, 50 µs did not always).
   * @default {75}
   */
  clearCommandUs?: number;
  /**
   * The store's Redis database holds this cache's keys and nothing else (a store connected
   * for it alone, `redis://host:port/<db>`): `clearAll` then flushes the database with
   * `FLUSHDB ASYNC`, O(1) on Redis's main thread, the keys freed by its background thread,
   * instead of deleting them one by one (about 4 to 6 µs of Redis each). Before flushing it
   * checks that the database is the cache's (the owner its last flush recorded, 16 random
   * keys) and otherwise clears key by key and reports an error (`_own_database.ts`).
   * Give a database of its own to a large cache that is cleared on its own, so that the
   * clear does not hold up every other client (docs/performance.md, "`clearAll` at
   * national size").
   *
   * Throws at construction when another cache is already built on the store, or is built
   * on it later (both name the caches). On a Redis Cluster (one database) it has no effect:
   * the clear reports an error and scans.
   * @default {false}
   */
  ownsDatabase?: boolean;
  /**
   * The in-process L1 in front of Redis; `false` for none.
   * @default {the store's L1}
   */
  l1?: L1Cache | false;
  /** Reply deadline of each Redis call, in ms. @default {the store's `commandTimeoutMs`} */
  commandTimeoutMs?: number;
  /** After a timed-out call, skip Redis for this long, in ms. @default {1000} */
  breakerMs?: number;
  /**
   * Coordinate `getOrSet` misses across processes with the fleet fill lock (see
   * `_fleet_fill.ts`). Without it, a miss is coordinated within this process only.
   */
  fill?: FillPolicy;
  /**
   * Receives JSON lines: Redis failures (at most one per second per cache), one
   * `cache_fill` line per `getOrSet` miss (its outcome, waited and compute ms), and one
   * `cache_clear` line per clear.
   */
  log?: (line: string) => void;
}
