/**
 * `TimCacheB`: the in-memory versioned cache, with the same interface and single flight
 * as {@linkcode TimCacheC}. Bounded by an LRU (npm `lru-cache`) with an optional TTL; used
 * for data that must not outlive the process's view of it (e.g. the structure, 1-hour
 * TTL).
 *
 * @module
 */
import { LRUCache } from "lru-cache";
import { VersionedCache } from "./_versioned_cache.ts";
import type { StoreRead, VersionedCacheOptions, WriteResult } from "./_store_contract.ts";
import { ANY_VERSION, type ClearResult, type HashFuncs } from "./types.ts";

/** Options of {@linkcode TimCacheB}. */
export interface TimCacheBOptions extends VersionedCacheOptions {
  /** Most entries kept; the least recently used go first. @default {10_000} */
  maxEntries?: number;
  /** Time to live of an entry from its write, in ms; `undefined` means no expiry. */
  ttlMs?: number;
  /** The cache's name in reports. @default {"memory"} */
  name?: string;
}

interface Entry<T> {
  versionHash: string;
  data: T;
}

/**
 * An in-memory versioned cache. Entries are the producer's own objects, deeply frozen (they
 * are shared by every caller that reads them).
 *
 * @example
 * ```ts
 * const structure = new TimCacheB<"all", number, Structure>({
 *   uniquenessHashFromParams: () => "all",
 *   versionHashFromParams: (v) => String(v),
 *   parseData: () => ({ shouldStore: true, uniquenessHash: "all", versionHash: "1" }),
 * }, { ttlMs: 60 * 60 * 1000 });
 * ```
 */
export class TimCacheB<UniquenessParams, VersionParams, T>
  extends VersionedCache<UniquenessParams, VersionParams, T> {
  readonly #entries: LRUCache<string, Entry<T>>;
  /** The cache's name in reports. */
  readonly name: string;

  /**
   * An in-memory cache of at most `maxEntries` entries, each kept `ttlMs`.
   *
   * @throws {RangeError} If `maxEntries` is not a positive integer or `ttlMs` is not positive.
   */
  constructor(
    hashFuncs: HashFuncs<UniquenessParams, VersionParams, T>,
    options: TimCacheBOptions = {},
  ) {
    super(hashFuncs, options);
    const max = options.maxEntries ?? 10_000;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`Cannot create cache: 'maxEntries' (${max}) must be a positive integer`);
    }
    if (options.ttlMs !== undefined && !(options.ttlMs > 0)) {
      throw new RangeError(`Cannot create cache: 'ttlMs' (${options.ttlMs}) must be positive`);
    }
    this.#entries = new LRUCache<string, Entry<T>>({ max, ttl: options.ttlMs });
    this.name = options.name ?? "memory";
    options.store?.caches.register(this);
  }

  /** Number of stored entries. */
  get size(): number {
    return this.#entries.size;
  }

  /** Empties the cache and stops in-flight writes (flush-all). */
  flushLocal(): void {
    this.cancelPendingWrites();
    this.#entries.clear();
  }

  /** The entry of the wanted version, from the map without awaiting. */
  protected override peekLocal(uniquenessHash: string, version: string): T | undefined {
    const entry = this.#entries.get(uniquenessHash);
    return entry && (version === ANY_VERSION || entry.versionHash === version)
      ? entry.data
      : undefined;
  }

  /** Reads one entry from the map. */
  protected readEntry(uniquenessHash: string, _wantedVersion: string): Promise<StoreRead<T>> {
    const entry = this.#entries.get(uniquenessHash);
    return Promise.resolve(
      entry ? { kind: "hit", versionHash: entry.versionHash, data: entry.data } : { kind: "miss" },
    );
  }

  /** Nothing to refresh: the map's TTL counts from the write. */
  protected touchEntry(): void {}

  /** Stores one entry in the map. */
  protected writeEntry(uniquenessHash: string, versionHash: string, data: T): Promise<WriteResult> {
    this.#entries.set(uniquenessHash, { versionHash, data });
    return Promise.resolve("stored");
  }

  /** Deletes one entry from the map. */
  protected deleteEntry(uniquenessHash: string): Promise<ClearResult> {
    this.#entries.delete(uniquenessHash);
    return Promise.resolve({ status: "cleared" });
  }

  /** Deletes every entry of the map. */
  protected deleteAll(): Promise<ClearResult> {
    const deleted = this.#entries.size;
    this.#entries.clear();
    return Promise.resolve({ status: "cleared", deleted });
  }
}
