/**
 * Types shared by the cache classes.
 *
 * @module
 */

/** Passed as the version to {@linkcode TimCache.get} to accept any stored version. */
export const ANY_VERSION = "any_version";

/** The literal `"any_version"`. */
export type AnyVersion = typeof ANY_VERSION;

/** What `parseData` says about a computed value. */
export interface ParsedData {
  /** Whether the value may be stored (e.g. `false` for an error or a partial result). */
  shouldStore: boolean;
  /** The uniqueness hash the value belongs to; it must equal the key it is stored under. */
  uniquenessHash: string;
  /** The version the value was computed for; it must equal the version it is stored as. */
  versionHash: string;
}

/**
 * The three functions of a versioned cache (the plan's `TimCache` contract).
 *
 * `UniquenessParams` identify an entry (what was asked); `VersionParams` say which
 * version of the inputs it was computed from (e.g. a module's `last_run`). An entry stored
 * under one version is a miss for any other.
 */
export interface HashFuncs<UniquenessParams, VersionParams, T> {
  /** A stable string for the entry's identity; becomes the last part of the key. */
  uniquenessHashFromParams(params: UniquenessParams): string;
  /** A stable string for the version; stored beside the data and compared on read. */
  versionHashFromParams(versionParams: VersionParams): string;
  /** Tells whether a computed value should be stored, and which key and version it is for. */
  parseData(data: T): ParsedData;
}

/** How a read-through call was served. */
export type CacheOutcome =
  /** From the store, or from another caller's computation this caller waited for. */
  | "hit"
  /** This caller ran the producer, and the cache was available to store the result. */
  | "miss"
  /** The cache was unavailable (Redis disabled or down): the producer ran uncached. */
  | "bypass"
  /**
   * The fill was slower than the cache's `softTimeoutMs`: the caller got the value stored
   * for another version (what was there) while the fill goes on in the background. Only
   * with `softTimeoutMs` set; {@linkcode CacheResult.staleVersionHash} names the version.
   */
  | "stale";

/** The result of {@linkcode TimCache.getOrSet}. */
export interface CacheResult<T> {
  /** The value for the caller. */
  value: T;
  /** Where the value came from (`hit`, `miss`, `bypass`, `stale`, ...). */
  outcome: CacheOutcome;
  /**
   * Time spent reading the cache (and waiting for another caller's computation), in ms. A
   * caller that joined a read or fill already in flight gets the flight's (from its start to
   * its value); an in-process L1 hit is 0.
   */
  lookupMs: number;
  /** Time spent in this caller's producer, in ms (0 unless `outcome` is miss or bypass). */
  computeMs: number;
  /** With outcome `stale`: the version hash of the value served. */
  staleVersionHash?: string;
}

/**
 * What a clear did. A clear always takes effect in this process at once (in-flight fills
 * are detached and will not write); `status` says whether the store has it too.
 */
export interface ClearResult {
  /**
   * `cleared`: the store removed the entries and fenced the fills in flight anywhere.
   * `pending`: the store could not be reached; the clear is retried in the background and,
   * until it lands, this process reads the cleared entries as unavailable (never serves
   * them) and does not write them. Other processes keep serving them until then.
   */
  status: "cleared" | "pending";
  /** Keys deleted (`clearAll` on Redis; `undefined` where it is not counted). */
  deleted?: number;
}

/** The interface {@linkcode TimCacheB} and {@linkcode TimCacheC} share. */
export interface TimCache<UniquenessParams, VersionParams, T> {
  /** The cache's name in reports and spans (a `TimCacheC`'s prefix). */
  readonly name: string;
  /**
   * The stored value for `params` at `versionParams`, or `undefined` on a miss.
   * A miss takes a short miss lease: concurrent `get`s of the same key and version wait for
   * this caller's {@linkcode setPromise} instead of missing too.
   */
  get(params: UniquenessParams, versionParams: VersionParams | AnyVersion): Promise<T | undefined>;
  /** Registers `promise` as the in-flight value at once, then stores its result. */
  setPromise(
    promise: Promise<T>,
    params: UniquenessParams,
    versionParams: VersionParams,
  ): Promise<T>;
  /** Read-through: a hit, or one producer run shared by every concurrent caller. */
  getOrSet(
    params: UniquenessParams,
    versionParams: VersionParams,
    producer: () => Promise<T>,
  ): Promise<CacheResult<T>>;
  /**
   * Removes one entry (every version). Fills that started before the clear, in this process
   * or (`TimCacheC`) any other, do not write after it; callers after it start a new fill.
   * Never throws: an unreachable store makes the result `pending` (see {@linkcode ClearResult}).
   */
  clear(params: UniquenessParams): Promise<ClearResult>;
  /** Removes every entry of this cache, with the guarantees of {@linkcode TimCache.clear}. */
  clearAll(): Promise<ClearResult>;
}
