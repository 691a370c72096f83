/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * The browser cache: a memory LRU in front of IndexedDB (`idb-keyval`, database `wb-cache`,
 * store `entries`), with in-flight deduplication, keyed `<cache>/<uniquenessHash>::<version>`.
 *
 * ```
 * get(cache, params, version, fetch)
 *   memory LRU ─ hit ─▶ { source: "memory" }
 *   IndexedDB  ─ hit ─▶ { source: "indexeddb" }   (and into the LRU)
 *   in flight? ─ yes ─▶ the same promise
 *   fetch()   ─────────▶ { source: "network" }     (stored unless clear() ran meanwhile;
 *                                                 older versions of the key deleted)
 * ```
 *
 * Without a version (the event stream has not said it yet, or is down) nothing is read or
 * stored: the value comes from the network.
 *
 * @module
 */
import { clear, createStore, del, delMany, get, keys, set, type UseStore } from "idb-keyval";
import { cacheKey, keyStem } from "./hash.ts";

/** Where a value came from. */
export type CacheSource = "memory" | "indexeddb" | "network";

/** A read of the browser cache. */
export interface CacheRead<T> {
  value: T;
  source: CacheSource;
  /** The key, or undefined when there was no version (not cached). */
  key?: string;
}

/** Options of {@linkcode BrowserCache}. */
export interface BrowserCacheOptions {
  /** IndexedDB database. @default {"wb-cache"} */
  dbName?: string;
  /** Object store. @default {"entries"} */
  storeName?: string;
  /** Entries kept in memory. @default {200} */
  memoryEntries?: number;
}

/** The browser cache of one page. */
export class BrowserCache {
  readonly #store: UseStore;
  readonly #memory = new Map<string, unknown>();
  readonly #inFlight = new Map<string, Promise<CacheRead<unknown>>>();
  readonly #memoryEntries: number;
  /** Bumped by every clear: a fetch that started before it is not stored. */
  #generation = 0;

  constructor(options: BrowserCacheOptions = {}) {
    this.#store = createStore(options.dbName ?? "wb-cache", options.storeName ?? "entries");
    this.#memoryEntries = options.memoryEntries ?? 200;
  }

  /**
   * The value of `params` in `cache` at `version`, from memory, IndexedDB, a request already
   * in flight, or `fetch` (in that order).
   *
   * @param store Whether a fetched value may be kept (e.g. not an error body). @default {always}
   */
  get<T>(
    cache: string,
    params: unknown,
    version: string | undefined,
    fetch: () => Promise<T>,
    store: (value: T) => boolean = () => true,
  ): Promise<CacheRead<T>> {
    if (version === undefined) {
      return fetch().then((value) => ({ value, source: "network" as const }));
    }
    const key = cacheKey(cache, params, version);
    if (this.#memory.has(key)) {
      const value = this.#memory.get(key) as T;
      this.#memory.delete(key);
      this.#memory.set(key, value);
      return Promise.resolve({ value, source: "memory", key });
    }
    const pending = this.#inFlight.get(key);
    if (pending) return pending as Promise<CacheRead<T>>;
    const generation = this.#generation;
    const read = (async (): Promise<CacheRead<T>> => {
      const stored = await get<T>(key, this.#store).catch(() => undefined);
      if (stored !== undefined) {
        this.#remember(key, stored);
        return { value: stored, source: "indexeddb", key };
      }
      const value = await fetch();
      if (generation === this.#generation && store(value)) {
        this.#remember(key, value);
        await set(key, value, this.#store).catch(() => {});
        this.#dropOtherVersions(key).catch(() => {});
      }
      return { value, source: "network", key };
    })();
    this.#inFlight.set(key, read);
    read.finally(() => {
      if (this.#inFlight.get(key) === read) this.#inFlight.delete(key);
    }).catch(() => {});
    return read;
  }

  /** Empties the cache: memory, IndexedDB, and what is in flight will not be stored. */
  async clear(): Promise<void> {
    this.#generation++;
    this.#memory.clear();
    this.#inFlight.clear();
    await clear(this.#store);
  }

  /** Empties some caches only (an `invalidated` event). */
  async clearCaches(caches: readonly string[]): Promise<void> {
    if (caches.length === 0) return;
    this.#generation++;
    const doomed = (key: string) => caches.some((cache) => key.startsWith(`${cache}/`));
    for (const key of [...this.#memory.keys()]) if (doomed(key)) this.#memory.delete(key);
    for (const key of [...this.#inFlight.keys()]) if (doomed(key)) this.#inFlight.delete(key);
    await delMany((await keys<string>(this.#store)).filter(doomed), this.#store);
  }

  /** Entries in IndexedDB. */
  async count(): Promise<number> {
    return (await keys(this.#store)).length;
  }

  #remember(key: string, value: unknown): void {
    this.#memory.set(key, value);
    while (this.#memory.size > this.#memoryEntries) {
      this.#memory.delete(this.#memory.keys().next().value!);
    }
  }

  /** Deletes the entries of the same params at other versions (they can never hit again). */
  async #dropOtherVersions(key: string): Promise<void> {
    const stem = keyStem(key);
    for (const other of await keys<string>(this.#store)) {
      if (other !== key && other.startsWith(stem)) await del(other, this.#store);
    }
  }
}
