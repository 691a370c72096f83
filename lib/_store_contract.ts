/**
 * The store-adapter contract of the versioned caches: what a store's read and write
 * report to `VersionedCache` (`_versioned_cache.ts`), the miss it is asked to fill, and
 * the options common to both caches.
 *
 * @module
 */
import type { CacheOutcome } from "./types.ts";
import type { RedisStore } from "./redis_store.ts";

/** What a store read found. */
export type StoreRead<T> =
  /** The store is unavailable (disabled, down, timed out): treat as a bypass. */
  | { kind: "unavailable" }
  | { kind: "miss" }
  | {
    kind: "hit";
    versionHash: string;
    data: T;
    /** Served from an in-process layer: no TTL refresh is sent for it. */
    local?: boolean;
  };

/**
 * What a store write did: `stored`; `skipped` (the store works but did not keep it: too
 * large, unencodable, fenced by a clear or a newer leader); `unavailable`.
 */
export type WriteResult = "stored" | "skipped" | "unavailable";

/** Options common to both caches. All durations in milliseconds. */
export interface VersionedCacheOptions {
  /**
   * The instance's Redis store: its observers hear this cache's operations and its flush
   * (`flushAllServerCaches`) stops this cache's in-flight writes. Required by `TimCacheC`
   * (which keeps its entries there); optional for in-memory caches.
   */
  store?: RedisStore;
  /**
   * How long a `get` miss lease waits for the holder's `setPromise` before it is released
   * and waiting callers retry.
   * @default {5000}
   */
  missLeaseMs?: number;
  /**
   * Hard timeout of a fill (a producer run, a `setPromise` promise, a fleet follower's
   * wait included): past it, the fill's callers get a {@linkcode CacheTimeoutError}
   * (`PRODUCER_TIMEOUT`), the fill is forgotten (the next caller starts a new one) and its
   * late value is not stored.
   * @default {300_000}
   */
  producerTimeoutMs?: number;
  /**
   * Soft timeout: a `getOrSet` fill still running after this long, for a key that holds a
   * value of another version, hands that value to its callers (outcome `stale`) and goes on
   * in the background (stale-while-revalidate for a slow fill). Off unless set; must be
   * below `producerTimeoutMs`.
   */
  softTimeoutMs?: number;
}

/** A `getOrSet` miss, as handed to `VersionedCache.fillMiss`. */
export interface MissContext<T> {
  /** The entry's uniqueness hash (the key without the cache's prefix). */
  uniquenessHash: string;
  /** The version being filled. */
  versionHash: string;
  /** The store read failed (unavailable), as opposed to finding nothing. */
  unavailable: boolean;
  /**
   * The store's fence stamp, taken after the miss and before any producer runs; resolves
   * `undefined` when the store is unavailable (then nothing may be written). Pass it to
   * the write.
   */
  fence: Promise<unknown>;
  /** Aborted when the fill is abandoned (its hard timeout): stop waiting; nobody listens. */
  signal: AbortSignal;
  /** Runs the caller's producer (its time counts as compute time). */
  produce(): Promise<T>;
  /** Hands the value to the in-process callers waiting on this fill. */
  publish(value: T): void;
  /** Whether the value may be written: `parseData` says so, and no clear detached the fill. */
  storable(value: T): boolean;
}

/** What `VersionedCache.fillMiss` returns. */
export interface FillResult<T> {
  /** The value for the caller. */
  value: T;
  /** Where the value came from (`miss`, `bypass`, `stale`, ...). */
  outcome: CacheOutcome;
}
