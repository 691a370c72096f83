/**
 * The store-independent half of the versioned caches: in-process single flight, miss
 * leases, and the write fences that fix the plan's known defects. {@linkcode TimCacheB}
 * and {@linkcode TimCacheC} supply the storage.
 *
 * Single flight must hold for a cold burst: N callers that miss at once run the producer
 * once. Checking the store first and registering afterwards cannot give that (every
 * caller misses the store before any registers), so a caller registers its flight
 * synchronously, before its first `await`:
 *
 * - `getOrSet` registers a flight that reads the store and, on a miss, runs the producer;
 * - a plain `get` registers a miss lease (as memcache leases do): if the store misses, the
 *   caller returns `undefined` holding the lease, and concurrent `get`s of the same key and
 *   version wait for the lease holder's `setPromise` instead of missing too. A lease not
 *   followed by `setPromise` within `missLeaseMs` is released and its waiters retry.
 *
 * @module
 */
import { observed, reportOperation } from "./observe.ts";
import {
  ANY_VERSION,
  type AnyVersion,
  type CacheOutcome,
  type CacheResult,
  type HashFuncs,
  type TimCache,
} from "./types.ts";

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

/** What a flight settles with. */
type FlightResult<T> =
  | { kind: "value"; value: T }
  | { kind: "error"; error: unknown }
  /** A miss lease released without a value (expired, or its holder gave up). */
  | { kind: "released" };

interface Flight<T> {
  /** The version being produced, or `ANY_VERSION` for a lease taken by an any-version read. */
  versionHash: string;
  promise: Promise<FlightResult<T>>;
  settle(result: FlightResult<T> | Promise<FlightResult<T>>): void;
  /** Set when a clear ran after this flight started: its value must not be written. */
  cancelled: boolean;
  /** Whether this is a `get` miss lease (no producer of its own). */
  isLease: boolean;
  /** Lease expiry timer, armed once the holder's store read missed. */
  leaseTimer?: ReturnType<typeof setTimeout>;
}

/** Options common to both caches. */
export interface VersionedCacheOptions {
  /**
   * How long a `get` miss lease waits for the holder's `setPromise` before it is released
   * and waiting callers retry.
   * @default {5000}
   */
  missLeaseMs?: number;
}

/** A versioned cache with single flight; subclasses provide the store. */
export abstract class VersionedCache<U, V, T> implements TimCache<U, V, T> {
  readonly #funcs: HashFuncs<U, V, T>;
  readonly #missLeaseMs: number;
  /** The newest flight per uniqueness hash. */
  readonly #flights = new Map<string, Flight<T>>();
  /** Every flight whose value is not yet written, per uniqueness hash (for clear fences). */
  readonly #pendingWrites = new Map<string, Set<Flight<T>>>();

  constructor(funcs: HashFuncs<U, V, T>, options: VersionedCacheOptions = {}) {
    this.#funcs = funcs;
    this.#missLeaseMs = options.missLeaseMs ?? 5000;
  }

  /** The cache's name in reports (a `TimCacheC`'s prefix). */
  abstract readonly name: string;

  /** The store key of an entry, for reports (observers log it only at debug level). */
  protected keyOf(_uniquenessHash: string): string | undefined {
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
  /** Called after a hit with a matching version (e.g. to refresh a TTL); must not throw. */
  protected abstract touchEntry(uniquenessHash: string): void;
  /** Stores one entry; resolves `false` when the store was unavailable; must not throw. */
  protected abstract writeEntry(
    uniquenessHash: string,
    versionHash: string,
    data: T,
  ): Promise<boolean>;
  /** Deletes one entry; must not throw. */
  protected abstract deleteEntry(uniquenessHash: string): Promise<void>;
  /** Deletes every entry of this cache; must not throw. */
  protected abstract deleteAll(): Promise<void>;

  async get(params: U, versionParams: V | AnyVersion): Promise<T | undefined> {
    if (!observed()) return await this.#get(params, versionParams);
    const started = performance.now();
    const value = await this.#get(params, versionParams);
    reportOperation({
      cache: this.name,
      op: "get",
      result: value === undefined ? "miss" : "hit",
      latencyMs: performance.now() - started,
      key: this.keyOf(this.#funcs.uniquenessHashFromParams(params)),
    });
    return value;
  }

  async #get(params: U, versionParams: V | AnyVersion): Promise<T | undefined> {
    const uniquenessHash = this.#funcs.uniquenessHashFromParams(params);
    const versionHash = versionParams === ANY_VERSION
      ? ANY_VERSION
      : this.#funcs.versionHashFromParams(versionParams);
    for (;;) {
      const joined = this.#joinable(uniquenessHash, versionHash);
      if (joined) {
        const result = await joined.promise;
        if (result.kind === "value") return result.value;
        if (result.kind === "error") return undefined; // the caller computes itself
        continue; // a released lease: retry, one waiter becomes the next holder
      }
      const lease = this.#register(uniquenessHash, versionHash, true);
      const read = await this.readEntry(uniquenessHash, versionHash);
      if (read.kind === "hit" && matches(read.versionHash, versionHash)) {
        if (!read.local) this.touchEntry(uniquenessHash);
        this.#finish(uniquenessHash, lease, { kind: "value", value: read.data });
        return read.data;
      }
      // A setPromise took over (or another version superseded) the lease while we read:
      // join whatever is in flight now instead of missing.
      if (lease.settled) continue;
      // Keep the lease: concurrent gets wait for this caller's setPromise.
      lease.flight.leaseTimer = setTimeout(() => {
        this.#finish(uniquenessHash, lease, { kind: "released" });
      }, this.#missLeaseMs);
      return undefined;
    }
  }

  async setPromise(promise: Promise<T>, params: U, versionParams: V): Promise<T> {
    const uniquenessHash = this.#funcs.uniquenessHashFromParams(params);
    const versionHash = this.#funcs.versionHashFromParams(versionParams);
    const previous = this.#flights.get(uniquenessHash);
    const own = this.#register(uniquenessHash, versionHash, false);
    if (
      previous?.isLease &&
      (previous.versionHash === ANY_VERSION || previous.versionHash === versionHash)
    ) {
      // The lease holder's value (or a compatible one): hand it to the lease's waiters.
      clearTimeout(previous.leaseTimer);
      previous.leaseTimer = undefined;
      previous.settle(own.flight.promise);
    }
    let value: T;
    try {
      value = await promise;
    } catch (error) {
      this.#finish(uniquenessHash, own, { kind: "error", error });
      throw error;
    }
    own.flight.settle({ kind: "value", value }); // waiters get the value without the write
    await this.#store(uniquenessHash, versionHash, value, own.flight);
    this.#finish(uniquenessHash, own, { kind: "value", value });
    return value;
  }

  async getOrSet(params: U, versionParams: V, producer: () => Promise<T>): Promise<CacheResult<T>> {
    if (!observed()) return await this.#getOrSet(params, versionParams, producer);
    const started = performance.now();
    try {
      const result = await this.#getOrSet(params, versionParams, producer);
      reportOperation({
        cache: this.name,
        op: "get_or_set",
        result: result.outcome,
        latencyMs: performance.now() - started,
        key: this.keyOf(this.#funcs.uniquenessHashFromParams(params)),
        detail: { computeMs: result.computeMs },
      });
      return result;
    } catch (error) {
      reportOperation({
        cache: this.name,
        op: "get_or_set",
        result: "error",
        latencyMs: performance.now() - started,
      });
      throw error;
    }
  }

  async #getOrSet(
    params: U,
    versionParams: V,
    producer: () => Promise<T>,
  ): Promise<CacheResult<T>> {
    const uniquenessHash = this.#funcs.uniquenessHashFromParams(params);
    const versionHash = this.#funcs.versionHashFromParams(versionParams);
    const started = performance.now();
    for (;;) {
      const joined = this.#joinable(uniquenessHash, versionHash);
      if (joined) {
        const result = await joined.promise;
        if (result.kind === "value") {
          return {
            value: result.value,
            outcome: "hit",
            lookupMs: performance.now() - started,
            computeMs: 0,
          };
        }
        if (result.kind === "error") throw result.error;
        continue;
      }
      const own = this.#register(uniquenessHash, versionHash, false);
      const read = await this.readEntry(uniquenessHash, versionHash);
      if (read.kind === "hit" && read.versionHash === versionHash) {
        if (!read.local) this.touchEntry(uniquenessHash);
        this.#finish(uniquenessHash, own, { kind: "value", value: read.data });
        return {
          value: read.data,
          outcome: "hit",
          lookupMs: performance.now() - started,
          computeMs: 0,
        };
      }
      let computeMs = 0;
      const miss: MissContext<T> = {
        uniquenessHash,
        versionHash,
        unavailable: read.kind === "unavailable",
        produce: async () => {
          const computeStarted = performance.now();
          try {
            return await producer();
          } finally {
            computeMs += performance.now() - computeStarted;
          }
        },
        publish: (value) => own.flight.settle({ kind: "value", value }),
        storable: (value) => this.#storable(uniquenessHash, versionHash, value, own.flight),
      };
      let fill: FillResult<T>;
      try {
        fill = await this.fillMiss(miss);
      } catch (error) {
        this.#finish(uniquenessHash, own, { kind: "error", error });
        throw error;
      }
      this.#finish(uniquenessHash, own, { kind: "value", value: fill.value });
      const lookupMs = performance.now() - started - computeMs;
      return { value: fill.value, outcome: fill.outcome, lookupMs, computeMs };
    }
  }

  /**
   * Fills a miss of `getOrSet`: by default, runs the producer and stores its value.
   * {@linkcode TimCacheC} overrides it to coordinate the fill across processes.
   *
   * Implementations call `miss.publish(value)` as soon as the value is known (in-process
   * joiners need not wait for the write) and write only when `miss.storable(value)`.
   * Producer errors must propagate; store errors must not.
   */
  protected async fillMiss(miss: MissContext<T>): Promise<FillResult<T>> {
    const value = await miss.produce();
    miss.publish(value);
    const stored = miss.storable(value)
      ? await this.writeEntry(miss.uniquenessHash, miss.versionHash, value)
      : true;
    return { value, outcome: miss.unavailable && !stored ? "bypass" : "miss" };
  }

  async clear(params: U): Promise<void> {
    const uniquenessHash = this.#funcs.uniquenessHashFromParams(params);
    for (const flight of this.#pendingWrites.get(uniquenessHash) ?? []) flight.cancelled = true;
    await this.deleteEntry(uniquenessHash);
  }

  async clearAll(): Promise<void> {
    this.cancelPendingWrites();
    await this.deleteAll();
  }

  /** Stops every in-flight value of this cache from being written (used by flush-all). */
  cancelPendingWrites(): void {
    for (const flights of this.#pendingWrites.values()) {
      for (const flight of flights) flight.cancelled = true;
    }
  }

  /**
   * Whether a stored entry belongs under `uniquenessHash`: `parseData` of its data names
   * that key and the entry's own version. An entry copied or swapped under another key
   * (same version, wrong data) fails this and is treated as broken, as the write path
   * refuses it (`#storable`).
   */
  protected belongsTo(uniquenessHash: string, entry: { versionHash: string; data: T }): boolean {
    try {
      const parsed = this.#funcs.parseData(entry.data);
      return parsed.uniquenessHash === uniquenessHash && parsed.versionHash === entry.versionHash;
    } catch {
      return false;
    }
  }

  /** The uniqueness and version hashes of a request (for batched reads in subclasses). */
  protected hashesOf(params: U, versionParams: V): { uniquenessHash: string; versionHash: string } {
    return {
      uniquenessHash: this.#funcs.uniquenessHashFromParams(params),
      versionHash: this.#funcs.versionHashFromParams(versionParams),
    };
  }

  /** Number of flights and leases currently registered (for tests and metrics). */
  get inFlightCount(): number {
    return this.#flights.size;
  }

  #joinable(uniquenessHash: string, versionHash: string): Flight<T> | undefined {
    const flight = this.#flights.get(uniquenessHash);
    if (!flight) return undefined;
    return matches(flight.versionHash, versionHash) ? flight : undefined;
  }

  #register(uniquenessHash: string, versionHash: string, isLease: boolean): Registration<T> {
    let settle!: (result: FlightResult<T> | Promise<FlightResult<T>>) => void;
    const promise = new Promise<FlightResult<T>>((resolve) => (settle = resolve));
    const registration: Registration<T> = { settled: false, flight: undefined as never };
    const flight: Flight<T> = {
      versionHash,
      promise,
      cancelled: false,
      isLease,
      settle: (result) => {
        if (registration.settled) return;
        registration.settled = true;
        settle(result);
      },
    };
    registration.flight = flight;
    const previous = this.#flights.get(uniquenessHash);
    const handedOver = !isLease &&
      (previous?.versionHash === ANY_VERSION || previous?.versionHash === versionHash);
    if (previous?.isLease && !handedOver) {
      // A lease superseded by another version: release its waiters to retry.
      clearTimeout(previous.leaseTimer);
      previous.leaseTimer = undefined;
      previous.settle({ kind: "released" });
    }
    this.#flights.set(uniquenessHash, flight);
    let pending = this.#pendingWrites.get(uniquenessHash);
    if (!pending) this.#pendingWrites.set(uniquenessHash, pending = new Set());
    pending.add(flight);
    return registration;
  }

  /** Settles a flight and removes it, but only if it is still the newest for its key. */
  #finish(uniquenessHash: string, registration: Registration<T>, result: FlightResult<T>): void {
    const { flight } = registration;
    if (flight.leaseTimer !== undefined) clearTimeout(flight.leaseTimer);
    flight.leaseTimer = undefined;
    flight.settle(result);
    // Defect 1 of the plan: an older flight finishing must not remove a newer one's entry.
    if (this.#flights.get(uniquenessHash) === flight) this.#flights.delete(uniquenessHash);
    const pending = this.#pendingWrites.get(uniquenessHash);
    pending?.delete(flight);
    if (pending?.size === 0) this.#pendingWrites.delete(uniquenessHash);
  }

  /** Writes a computed value if it is {@linkcode #storable}; `false` when the store was unavailable. */
  async #store(
    uniquenessHash: string,
    versionHash: string,
    value: T,
    flight: Flight<T>,
  ): Promise<boolean> {
    if (!this.#storable(uniquenessHash, versionHash, value, flight)) return true;
    return await this.writeEntry(uniquenessHash, versionHash, value);
  }

  /**
   * Whether a computed value may be written: `parseData` says `shouldStore` for the same key
   * and version, and no clear ran since its flight started (defect 2 of the plan: a clear
   * racing a write must not let it resurrect the entry).
   */
  #storable(uniquenessHash: string, versionHash: string, value: T, flight: Flight<T>): boolean {
    if (flight.cancelled) return false;
    try {
      const parsed = this.#funcs.parseData(value);
      return parsed.shouldStore && parsed.versionHash === versionHash &&
        parsed.uniquenessHash === uniquenessHash;
    } catch {
      return false; // a value parseData cannot read is not stored
    }
  }
}

/** A `getOrSet` miss, as handed to {@linkcode VersionedCache.fillMiss}. */
export interface MissContext<T> {
  uniquenessHash: string;
  versionHash: string;
  /** The store read failed (unavailable), as opposed to finding nothing. */
  unavailable: boolean;
  /** Runs the caller's producer (its time counts as compute time). */
  produce(): Promise<T>;
  /** Hands the value to in-process callers waiting on this flight. */
  publish(value: T): void;
  /** Whether the value may be written (see `#storable`); check right before writing. */
  storable(value: T): boolean;
}

/** What {@linkcode VersionedCache.fillMiss} returns. */
export interface FillResult<T> {
  value: T;
  outcome: CacheOutcome;
}

interface Registration<T> {
  /** Whether the flight has been settled (its waiters released). */
  settled: boolean;
  flight: Flight<T>;
}

/** Whether a stored or in-flight version satisfies a read for `wanted`. */
function matches(stored: string, wanted: string): boolean {
  return wanted === ANY_VERSION || stored === wanted;
}
