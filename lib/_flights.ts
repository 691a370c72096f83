/**
 * In-flight calls of one cache, as small as Go's singleflight: one table keyed by
 * everything that makes two calls the same (the entry's uniqueness hash and the version
 * hash), an entry removed the moment its call completes on any path, and detachable by a
 * clear (singleflight's `Forget`).
 *
 * A flight is either a **fill** (a producer or a `setPromise` promise is computing the
 * value) or a **lease** (a plain `get` missed and its caller is expected to `setPromise`;
 * memcache's lease). Callers join the newest flight of their key and version and wait on
 * `waiters`, which settles once: with the value, the producer's error, `stale` (a soft
 * timeout served what was stored), `timeout` (the hard timeout), or `retry` (the flight
 * ended without a value for them: a lease released, a clear, a value of another version).
 *
 * @module
 */
import { ANY_VERSION } from "./types.ts";

/** What a caller waiting on a flight gets. */
export type FlightResult<T> =
  | { kind: "value"; value: T }
  | { kind: "stale"; value: T; versionHash: string }
  | { kind: "error"; error: unknown }
  | { kind: "timeout"; error: unknown }
  | { kind: "retry" };

/** An entry stored for another version than the one being filled. */
export interface StaleEntry<T> {
  versionHash: string;
  data: T;
}

/** One in-flight call. Created by {@linkcode FlightTable.start}. */
export class Flight<T> {
  /** Whether `waiters` has settled. */
  settled = false;
  /** Set by a clear or a hard timeout: the flight's value must not be written. */
  detached = false;
  /** What the store held for another version, served on a soft timeout. */
  stale?: StaleEntry<T>;
  /** The store's fence stamp for this fill (see `VersionedCache.beginFill`). */
  fence?: Promise<unknown>;
  /** `performance.now()` when the flight's owner started. */
  startedAt = 0;
  /** Its joiners' `lookupMs`: from `startedAt` to when the first joiner was served. */
  lookupMs?: number;
  /** The `getOrSet` callers waiting for it, released together (`VersionedCache`). */
  joiners?: unknown[];
  // Created when the first caller waits: most flights (a hit nobody joined) have none.
  #waiters?: Promise<FlightResult<T>>;
  #settle?: (result: FlightResult<T>) => void;
  #result?: FlightResult<T> | Promise<FlightResult<T>>;
  // Created on first use: a cache hit registers a flight too, and should not pay for these.
  #interrupted?: Promise<FlightResult<T>>;
  #interrupt?: (result: FlightResult<T>) => void;
  #interruption?: FlightResult<T>;
  #abort?: AbortController;
  #timers?: ReturnType<typeof setTimeout>[];

  constructor(
    /** The entry's uniqueness hash. */
    readonly key: string,
    /** The version hash being produced; `ANY_VERSION` for a lease of an any-version `get`. */
    readonly version: string,
    readonly kind: "fill" | "lease",
  ) {}

  /** Settles once, with what the callers waiting on this flight get. */
  get waiters(): Promise<FlightResult<T>> {
    if (this.#waiters) return this.#waiters;
    if (this.settled) return this.#waiters = Promise.resolve(this.#result!);
    return this.#waiters = new Promise((resolve) => (this.#settle = resolve));
  }

  /** Resolves when a timeout interrupts the fill (its owner stops waiting for it). */
  get interrupted(): Promise<FlightResult<T>> {
    if (this.#interruption) return Promise.resolve(this.#interruption);
    return this.#interrupted ??= new Promise((resolve) => (this.#interrupt = resolve));
  }

  /** Aborted when the flight is abandoned (its hard timeout): nobody waits for it any more. */
  get signal(): AbortSignal {
    return (this.#abort ??= new AbortController()).signal;
  }

  /** Settles `waiters` (the first call wins); a promise hands the waiters to another flight. */
  settle(result: FlightResult<T> | Promise<FlightResult<T>>): void {
    if (this.settled) return;
    this.settled = true;
    if (this.#settle) this.#settle(result as FlightResult<T>);
    else this.#result = result;
  }

  /** Stops the owner's wait (a timeout), settles the waiters the same way. */
  interrupt(result: FlightResult<T>): void {
    this.settle(result);
    if (this.#interruption) return;
    this.#interruption = result;
    this.#interrupt?.(result);
  }

  /** Marks the flight dead: no write, no new joiners (the table forgets it), waiters retry. */
  detach(): void {
    this.detached = true;
    this.settle({ kind: "retry" });
  }

  /** Detaches the flight and aborts its signal: its owner gave up on it (a hard timeout). */
  abandon(): void {
    this.detach();
    (this.#abort ??= new AbortController()).abort();
  }

  /** Runs `fn` after `ms` unless the flight ends first. */
  after(ms: number, fn: () => void): void {
    (this.#timers ??= []).push(setTimeout(fn, ms));
  }

  /** Cancels every timer of the flight. */
  clearTimers(): void {
    if (!this.#timers) return;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers = undefined;
  }
}

/** The in-flight calls of one cache. */
export class FlightTable<T> {
  /** Every flight not yet finished (including ones replaced in the index or detached). */
  readonly #live = new Set<Flight<T>>();
  /** The joinable flight per key and version (a newer one of the same version replaces it). */
  readonly #index = new Map<string, Map<string, Flight<T>>>();

  /** Number of flights not yet finished (fills and leases). */
  get size(): number {
    return this.#live.size;
  }

  /** Number of keys with a joinable flight (for leak tests: 0 at quiescence). */
  get indexedKeys(): number {
    return this.#index.size;
  }

  /** Registers a new flight; it becomes the joinable one of its key and version. */
  start(key: string, version: string, kind: "fill" | "lease"): Flight<T> {
    const flight = new Flight<T>(key, version, kind);
    this.#live.add(flight);
    let versions = this.#index.get(key);
    if (!versions) this.#index.set(key, versions = new Map());
    versions.delete(version); // re-inserted last: the newest of the key
    versions.set(version, flight);
    return flight;
  }

  /**
   * The joinable flight for `version` of `key`: that version's, or for `ANY_VERSION` the
   * newest of any version.
   */
  find(key: string, version: string): Flight<T> | undefined {
    const versions = this.#index.get(key);
    if (!versions) return undefined;
    if (version !== ANY_VERSION) return versions.get(version);
    let newest: Flight<T> | undefined;
    for (const flight of versions.values()) newest = flight;
    return newest;
  }

  /**
   * The joinable flight registered under exactly `version` of `key`, with no fallback:
   * for `ANY_VERSION`, the lease of an any-version `get` only (a fill taking over leases
   * must not take one of another version).
   */
  exact(key: string, version: string): Flight<T> | undefined {
    return this.#index.get(key)?.get(version);
  }

  /** Removes a flight (any completion path; safe to call twice) and cancels its timers. */
  finish(flight: Flight<T>): void {
    flight.clearTimers();
    this.#live.delete(flight);
    this.#unindex(flight);
  }

  /**
   * Detaches the flights of `key` (every key when `undefined`): none of them writes, their
   * waiters retry, and callers from now on start new flights. Leases end at once; a fill
   * ends when its owner finishes it.
   */
  detach(key?: string): void {
    for (const flight of this.#live) {
      if (key !== undefined && flight.key !== key) continue;
      flight.detach();
      this.#unindex(flight);
      if (flight.kind === "lease") this.finish(flight);
    }
  }

  #unindex(flight: Flight<T>): void {
    const versions = this.#index.get(flight.key);
    if (versions?.get(flight.version) !== flight) return;
    versions.delete(flight.version);
    if (versions.size === 0) this.#index.delete(flight.key);
  }
}
