/**
 * The store-independent half of the versioned caches: in-process single flight, miss
 * leases, clears, timeouts. {@linkcode TimCacheB} and {@linkcode TimCacheC} supply the
 * storage (and, for Redis, the fleet-wide fill and fence).
 *
 * Guarantees, per process (docs/architecture.md, "The cache core's guarantees"):
 *
 * - **Single flight per key and version.** A caller registers its flight synchronously,
 *   before its first `await` (checking the store first cannot give that: every caller of a
 *   cold burst would miss before any registered). `getOrSet` registers a fill; a plain
 *   `get` that misses keeps a **miss lease** (memcache's lease): concurrent `get`s of the
 *   same key and version wait for the holder's `setPromise`. A `getOrSet` does not wait for
 *   a lease: it takes it over (the lease's waiters get its value).
 * - **Flights end on every path** (value, error, timeout, clear, lease expiry): the table
 *   holds nothing at quiescence, and nothing it held stays reachable.
 * - **Producer errors** reach the owner and every joiner once; they are never retried
 *   behind the caller's back. **Store errors** (unreachable, a value JSON cannot encode,
 *   too large) are never thrown: the value is handed out and not stored.
 * - **No caller gets another version's data**: a value whose `parseData` names another key
 *   or version is returned to its own producer's caller only; joiners retry. (Except the
 *   opt-in soft timeout, which says so: outcome `stale`.)
 * - **Clears mean it**: a clear detaches the flights of its key (all keys for `clearAll`):
 *   none of them writes, their joiners retry, and callers after the clear start new
 *   flights. The store fences writes of fills that started before it (`TimCacheC`: in
 *   every process).
 * - **Bounded in time**: a fill longer than `producerTimeoutMs` is abandoned (its callers
 *   get a {@linkcode CacheTimeoutError}, its late value is not stored); a lease is released
 *   after `missLeaseMs`.
 * - **Shared values are frozen** (see `_freeze.ts`).
 *
 * @module
 */
import { armHardTimeout, armSoftTimeout, checkTimeouts } from "./_fill_timeouts.ts";
import type {
  FillResult,
  MissContext,
  StoreRead,
  VersionedCacheOptions,
  WriteResult,
} from "./_store_contract.ts";
import { deepFreeze } from "./_freeze.ts";
import { belongsToFlight, entryBelongsTo, matches, storable } from "./_flight_values.ts";
import { type Flight, FlightTable } from "./_flights.ts";
import { joinFlight, type RetryJoiner } from "./_joiners.ts";
import { type CacheObservers, OperationReporter } from "./observe.ts";
import {
  ANY_VERSION,
  type AnyVersion,
  type CacheResult,
  type ClearResult,
  type HashFuncs,
  type TimCache,
} from "./types.ts";

/** A versioned cache with single flight; subclasses provide the store. */
export abstract class VersionedCache<U, V, T> implements TimCache<U, V, T> {
  readonly #funcs: HashFuncs<U, V, T>;
  readonly #missLeaseMs: number;
  readonly #producerTimeoutMs: number;
  readonly #softTimeoutMs: number | undefined;
  readonly #flights = new FlightTable<T>();
  /** The observers of the store the cache was built on, if any. */
  protected readonly observers: CacheObservers | undefined;
  readonly #reporter: OperationReporter;

  /**
   * Checks the options and builds the in-process flight and clear bookkeeping.
   *
   * @throws {RangeError} If a duration is not a positive finite number, or `softTimeoutMs`
   *   is not below `producerTimeoutMs`.
   */
  constructor(funcs: HashFuncs<U, V, T>, options: VersionedCacheOptions = {}) {
    this.#funcs = funcs;
    const timeouts = checkTimeouts(options);
    this.#missLeaseMs = timeouts.missLeaseMs;
    this.#producerTimeoutMs = timeouts.producerTimeoutMs;
    this.#softTimeoutMs = timeouts.softTimeoutMs;
    this.observers = options.store?.observers;
    this.#reporter = new OperationReporter(this.observers, this, (hash) => this.keyOf(hash));
  }

  /** The cache's name in reports (a `TimCacheC`'s prefix). */
  abstract readonly name: string;

  /** The hard timeout of a fill, in ms (see {@linkcode VersionedCacheOptions}). */
  get producerTimeoutMs(): number {
    return this.#producerTimeoutMs;
  }

  /** The store key of an entry, for reports (observers log it only at debug level). */
  protected keyOf(_uniquenessHash: string): string | undefined {
    return undefined;
  }

  /**
   * An in-process copy of the entry at `version` (a version hash or `ANY_VERSION`), read
   * synchronously, or `undefined`. A hit here needs no flight.
   */
  protected peekLocal(_uniquenessHash: string, _version: string): T | undefined {
    return undefined;
  }

  /**
   * Reads one entry; must not throw (a broken entry is a miss, an outage is unavailable).
   * `wantedVersion` (a version hash or `ANY_VERSION`) lets a layered store skip a local
   * copy of another version; the caller still checks the version it gets.
   */
  protected abstract readEntry(
    uniquenessHash: string,
    wantedVersion: string,
  ): Promise<StoreRead<T>>;
  /**
   * Called after a store hit with a matching version (e.g. to refresh a TTL), with the time
   * of the hit (`performance.now()`); must not throw.
   */
  protected abstract touchEntry(uniquenessHash: string, nowMs: number): void;
  /**
   * The fence stamp of a fill that starts now: a write carrying it is refused if a clear
   * of its key (or of the whole cache) happened after this call. `undefined` when the
   * store is unavailable. Must not throw. The in-memory default needs none (a clear
   * detaches this process's flights, which is all there is).
   */
  protected beginFill(_uniquenessHash: string): Promise<unknown> {
    return Promise.resolve(true);
  }
  /** Stores one entry, fenced by `fence` (from {@linkcode beginFill}); must not throw. */
  protected abstract writeEntry(
    uniquenessHash: string,
    versionHash: string,
    data: T,
    fence: unknown,
  ): Promise<WriteResult>;
  /** Deletes one entry (every version) and fences fills in flight; must not throw. */
  protected abstract deleteEntry(uniquenessHash: string): Promise<ClearResult>;
  /** Deletes every entry of this cache and fences fills in flight; must not throw. */
  protected abstract deleteAll(): Promise<ClearResult>;

  async get(params: U, versionParams: V | AnyVersion): Promise<T | undefined> {
    const started = this.observers?.any ? performance.now() : undefined;
    const key = this.#funcs.uniquenessHashFromParams(params);
    const version = versionParams === ANY_VERSION
      ? ANY_VERSION
      : this.#funcs.versionHashFromParams(versionParams);
    const local = this.peekLocal(key, version);
    if (local !== undefined) {
      if (started !== undefined) this.#reporter.report("get", "hit", started, key, undefined, true);
      return local;
    }
    const value = await this.#get(key, version);
    if (started !== undefined) {
      this.#reporter.report("get", value === undefined ? "miss" : "hit", started, key);
    }
    return value;
  }

  /** `get` past a missed L1: the flight of this key and version, else a read under a lease. */
  async #get(key: string, version: string): Promise<T | undefined> {
    for (;;) {
      const joined = this.#flights.find(key, version);
      if (joined) {
        const result = await joined.waiters;
        if (result.kind === "value") return result.value;
        if (result.kind === "stale") return version === ANY_VERSION ? result.value : undefined;
        if (result.kind === "retry") continue;
        return undefined; // an error or a timeout: the caller computes itself
      }
      const lease = this.#flights.start(key, version, "lease");
      const read = await this.readEntry(key, version);
      if (read.kind === "hit" && matches(read.versionHash, version)) {
        lease.settle({ kind: "value", value: read.data });
        this.#flights.finish(lease);
        if (!read.local) this.touchEntry(key, performance.now());
        return read.data;
      }
      if (lease.settled) {
        // Taken over (a setPromise or getOrSet of this version) or cleared while we read:
        // join whatever is in flight now instead of missing.
        this.#flights.finish(lease);
        continue;
      }
      // Keep the lease: concurrent gets wait for this caller's setPromise, whose write is
      // fenced from now (the caller computes after this returns).
      lease.fence = read.kind === "unavailable" ? Promise.resolve(undefined) : this.beginFill(key);
      await lease.fence;
      if (!lease.settled) {
        lease.after(this.#missLeaseMs, () => {
          lease.settle({ kind: "retry" }); // one waiter becomes the next holder
          this.#flights.finish(lease);
        });
      }
      return undefined;
    }
  }

  async setPromise(promise: Promise<T>, params: U, versionParams: V): Promise<T> {
    const key = this.#funcs.uniquenessHashFromParams(params);
    const version = this.#funcs.versionHashFromParams(versionParams);
    const own = this.#startFill(key, version, true, performance.now());
    own.fence ??= this.beginFill(key);
    this.#armHardTimeout(own);
    let value: T;
    try {
      value = await Promise.race([promise, own.interrupted.then(rejectWith)]);
    } catch (error) {
      own.settle({ kind: "error", error }); // no-op after a timeout (already settled)
      this.#flights.finish(own);
      throw error;
    }
    this.#publish(own, value);
    if (storable(this.#funcs, own, value)) {
      const fence = await own.fence;
      if (fence !== undefined) await this.writeEntry(key, version, value, fence);
    }
    this.#flights.finish(own);
    return value;
  }

  getOrSet(params: U, versionParams: V, producer: () => Promise<T>): Promise<CacheResult<T>> {
    // Not async: a hit that joins a read in flight costs one reaction, no frame (see #join).
    if (this.observers?.any) return this.#observedGetOrSet(params, versionParams, producer);
    return this.#getOrSet(params, versionParams, producer);
  }

  /**
   * `getOrSet` reported to the observers. An L1 hit is reported as it happens, flagged
   * `local` (no frame, no await: it is most of the reads of a warm server); anything else
   * when it settles.
   */
  #observedGetOrSet(
    params: U,
    versionParams: V,
    producer: () => Promise<T>,
  ): Promise<CacheResult<T>> {
    const started = performance.now();
    let key: string;
    let version: string;
    let local: T | undefined;
    try {
      key = this.#funcs.uniquenessHashFromParams(params);
      version = this.#funcs.versionHashFromParams(versionParams);
      local = this.peekLocal(key, version);
    } catch (error) {
      this.#reporter.error("get_or_set", started, error);
      return Promise.reject(error);
    }
    if (local !== undefined) {
      this.#reporter.report("get_or_set", "hit", started, key, undefined, true);
      return Promise.resolve({ value: local, outcome: "hit", lookupMs: 0, computeMs: 0 });
    }
    return this.#pastLocal(key, version, producer).then((result) => {
      this.#reporter.report("get_or_set", result.outcome, started, key, {
        computeMs: result.computeMs,
      });
      return result;
    }, (error) => {
      this.#reporter.error("get_or_set", started, error);
      throw error;
    });
  }

  /**
   * The local copy, else the fill (or read) of this key and version in flight, else a new
   * flight. Never throws: a throwing hash function rejects.
   */
  #getOrSet(params: U, versionParams: V, producer: () => Promise<T>): Promise<CacheResult<T>> {
    let key: string;
    let version: string;
    try {
      key = this.#funcs.uniquenessHashFromParams(params);
      version = this.#funcs.versionHashFromParams(versionParams);
      const local = this.peekLocal(key, version);
      if (local !== undefined) {
        return Promise.resolve({ value: local, outcome: "hit", lookupMs: 0, computeMs: 0 });
      }
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#pastLocal(key, version, producer);
  }

  /** After a missed L1: the fill (or read) of this key and version in flight, else a new one. */
  #pastLocal(key: string, version: string, producer: () => Promise<T>): Promise<CacheResult<T>> {
    const joined = this.#flights.find(key, version);
    if (joined?.kind === "fill") return joinFlight(joined, producer, this.#retry);
    return this.#lookup(key, version, producer, performance.now());
  }

  /** A joiner's next attempt when its flight ended without a value for it (see `_joiners.ts`). */
  readonly #retry: RetryJoiner<T> = (flight, producer) =>
    this.#lookup(flight.key, flight.version, producer, flight.startedAt);

  /** Reads the store as the owner of a new flight, and fills on a miss. */
  async #lookup(
    key: string,
    version: string,
    producer: () => Promise<T>,
    started: number,
  ): Promise<CacheResult<T>> {
    for (;;) {
      const joined = this.#flights.find(key, version);
      if (joined?.kind === "fill") return await joinFlight(joined, producer, this.#retry);
      // A lease of this version is taken over, not waited for: its holder may never come.
      const own = this.#startFill(key, version, false, started);
      const read = await this.readEntry(key, version);
      if (read.kind === "hit" && read.versionHash === version) {
        own.settle({ kind: "value", value: read.data });
        this.#flights.finish(own);
        const now = performance.now();
        if (!read.local) this.touchEntry(key, now);
        return { value: read.data, outcome: "hit", lookupMs: now - started, computeMs: 0 };
      }
      if (own.detached) {
        this.#flights.finish(own); // cleared while we read: start again after the clear
        continue;
      }
      if (read.kind === "hit") own.stale = { versionHash: read.versionHash, data: read.data };
      own.fence = read.kind === "unavailable" ? Promise.resolve(undefined) : this.beginFill(key);
      return await this.#fill(own, read.kind === "unavailable", producer, started);
    }
  }

  /** Runs a registered fill to its end (or its owner's timeout), as `getOrSet`'s owner. */
  async #fill(
    own: Flight<T>,
    unavailable: boolean,
    producer: () => Promise<T>,
    started: number,
  ): Promise<CacheResult<T>> {
    this.#armHardTimeout(own);
    armSoftTimeout(own, this.#softTimeoutMs);
    let computeMs = 0;
    const miss: MissContext<T> = {
      uniquenessHash: own.key,
      versionHash: own.version,
      unavailable,
      fence: own.fence!,
      get signal() {
        return own.signal;
      },
      produce: async () => {
        const computeStarted = performance.now();
        try {
          return await producer();
        } finally {
          computeMs += performance.now() - computeStarted;
        }
      },
      publish: (value) => this.#publish(own, value),
      storable: (value) => storable(this.#funcs, own, value),
    };
    const filling = this.fillMiss(miss).then(
      (result) => {
        this.#publish(own, result.value); // no-op when the fill published it already
        return result;
      },
      (error: unknown) => {
        own.settle({ kind: "error", error });
        throw error;
      },
    ).finally(() => this.#flights.finish(own));
    const first = await Promise.race([filling, own.interrupted]);
    if ("outcome" in first) {
      return {
        value: first.value,
        outcome: first.outcome,
        lookupMs: performance.now() - started - computeMs,
        computeMs,
      };
    }
    filling.catch(() => {}); // the owner stopped waiting: the fill ends in the background
    if (first.kind === "stale") {
      return {
        value: first.value,
        outcome: "stale",
        staleVersionHash: first.versionHash,
        lookupMs: performance.now() - started,
        computeMs: 0,
      };
    }
    throw (first as { error?: unknown }).error;
  }

  /**
   * Fills a miss of `getOrSet`: by default, waits for the fence, runs the producer and
   * stores its value. {@linkcode TimCacheC} overrides it to coordinate the fill across
   * processes.
   *
   * Implementations call `miss.publish(value)` as soon as the value is known (in-process
   * joiners need not wait for the write), write only when `miss.storable(value)` with the
   * fence, let producer errors propagate (once: never run the producer again for them)
   * and never throw store errors.
   */
  protected async fillMiss(miss: MissContext<T>): Promise<FillResult<T>> {
    const fence = await miss.fence;
    const value = await miss.produce();
    miss.publish(value);
    const written = miss.storable(value) && fence !== undefined
      ? await this.writeEntry(miss.uniquenessHash, miss.versionHash, value, fence)
      : "skipped";
    return { value, outcome: miss.unavailable && written !== "stored" ? "bypass" : "miss" };
  }

  /**
   * Removes one entry (every version): the fills of its key in this process are detached
   * (no write; their joiners retry), and the store deletes and fences it.
   */
  async clear(params: U): Promise<ClearResult> {
    const key = this.#funcs.uniquenessHashFromParams(params);
    this.#flights.detach(key);
    return await this.deleteEntry(key);
  }

  /** Removes every entry of this cache, with the guarantees of {@linkcode clear}. */
  async clearAll(): Promise<ClearResult> {
    this.#flights.detach();
    return await this.deleteAll();
  }

  /** Detaches every flight of this cache (flush-all: their values must not be written). */
  cancelPendingWrites(): void {
    this.#flights.detach();
  }

  /**
   * Whether a stored entry belongs under `uniquenessHash`: `parseData` of its data names
   * that key and the entry's own version. An entry copied or swapped under another key
   * (same version, wrong data) fails this and is treated as broken, as the write path
   * refuses it.
   */
  protected belongsTo(uniquenessHash: string, entry: { versionHash: string; data: T }): boolean {
    return entryBelongsTo(this.#funcs, uniquenessHash, entry);
  }

  /** The uniqueness and version hashes of a request (for batched reads in subclasses). */
  protected hashesOf(params: U, versionParams: V): { uniquenessHash: string; versionHash: string } {
    return {
      uniquenessHash: this.#funcs.uniquenessHashFromParams(params),
      versionHash: this.#funcs.versionHashFromParams(versionParams),
    };
  }

  /** Flights and leases not yet finished (0 at quiescence; for tests and metrics). */
  get inFlightCount(): number {
    return this.#flights.size;
  }

  /** Keys with a joinable flight (0 at quiescence; for leak tests). */
  get inFlightKeys(): number {
    return this.#flights.indexedKeys;
  }

  /**
   * Registers a fill of `key` at `version`, taking over a miss lease of that version (and
   * one of `ANY_VERSION`): the lease's waiters get this fill's result. `setPromise` also
   * inherits the lease's fence (the holder computed after it).
   */
  #startFill(key: string, version: string, inheritFence: boolean, startedAt: number): Flight<T> {
    // This version's lease and an any-version get's, never another version's (its waiters).
    const leases = [this.#flights.exact(key, version), this.#flights.exact(key, ANY_VERSION)];
    const own = this.#flights.start(key, version, "fill");
    own.startedAt = startedAt;
    for (const lease of leases) {
      if (lease?.kind !== "lease" || lease.settled) continue;
      if (inheritFence) own.fence ??= lease.fence;
      lease.settle(own.waiters);
      this.#flights.finish(lease);
    }
    return own;
  }

  /** Past `producerTimeoutMs`, the fill's callers get a timeout and the fill is forgotten. */
  #armHardTimeout(own: Flight<T>): void {
    armHardTimeout(own, {
      cache: this.name,
      timeoutMs: this.#producerTimeoutMs,
      key: this.keyOf(own.key),
      forget: () => this.#flights.finish(own),
      observers: this.observers,
    });
  }

  /**
   * Hands a computed value to the flight's waiters, frozen, if it is the flight's key and
   * version by `parseData` (else they retry: no caller gets another version's data).
   */
  #publish(flight: Flight<T>, value: T): void {
    if (flight.settled) return;
    if (belongsToFlight(this.#funcs, flight, value)) {
      flight.settle({ kind: "value", value: deepFreeze(value) });
    } else {
      flight.settle({ kind: "retry" });
      this.#flights.finish(flight); // nobody may join it: its value is for another version
    }
  }
}

function rejectWith(result: { kind: string; error?: unknown }): never {
  throw result.error;
}
