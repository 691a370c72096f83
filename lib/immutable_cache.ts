/**
 * Immutable cache-aside, for records that never change once they exist (content-addressed
 * data, a finished module run's results by run id):
 *
 * - records are stored without a TTL (no expiry, no refresh, no invalidation; Redis's
 *   `maxmemory` eviction bounds them) at `cache:<prefix>:r:<id>`;
 * - only positive results are cached: a producer answering `undefined` (not found) is
 *   asked again next time, so a record created later is found;
 * - a boolean existence key (`cache:<prefix>:e:<id>`) is pre-warmed by the writer
 *   when the record comes into being (`markExists`), so existence checks need no database;
 *   the record itself is filled only when first read.
 *
 * Both live under the cache's one prefix (a `clearAll` of either empties both), so an
 * `ImmutableCache("x")` owns prefix `x` and nothing else.
 *
 * @module
 */
import { TimCacheC, type TimCacheCOptions } from "./tim_cache_c.ts";

/** Options of {@linkcode ImmutableCache}. */
export type ImmutableCacheOptions = Pick<
  TimCacheCOptions,
  "store" | "l1" | "log" | "compressAboveBytes" | "maxValueBytes"
>;

interface Found<T> {
  id: string;
  /** `undefined`: the producer found nothing (never stored). */
  value: T | undefined;
}

/** A cache of immutable records by id. */
export class ImmutableCache<T> {
  readonly #records: TimCacheC<string, "immutable", Found<T>>;
  readonly #exists: TimCacheC<string, "immutable", { id: string; exists: boolean }>;

  /**
   * An immutable cache under the Redis key prefix `prefix`.
   *
   * @throws {TypeError} If `prefix` is empty or contains `:`.
   */
  constructor(readonly prefix: string, options: ImmutableCacheOptions) {
    this.#records = new TimCacheC(prefix, {
      uniquenessHashFromParams: (id) => `r:${id}`,
      versionHashFromParams: () => "immutable",
      parseData: (found) => ({
        shouldStore: found.value !== undefined, // positive results only
        uniquenessHash: `r:${found.id}`,
        versionHash: "immutable",
      }),
    }, { ...options, persistent: true });
    this.#exists = new TimCacheC(prefix, {
      uniquenessHashFromParams: (id) => `e:${id}`,
      versionHashFromParams: () => "immutable",
      parseData: (flag) => ({
        shouldStore: flag.exists,
        uniquenessHash: `e:${flag.id}`,
        versionHash: "immutable",
      }),
    }, { ...options, persistent: true });
  }

  /**
   * The record `id`: from the cache, else from `producer` (once for concurrent callers).
   * `undefined` from the producer means "no such record": returned, never cached.
   */
  async get(
    id: string,
    producer: () => Promise<T | undefined>,
  ): Promise<{ value: T | undefined; hit: boolean }> {
    const result = await this.#records.getOrSet(
      id,
      "immutable",
      async () => ({ id, value: await producer() }),
    );
    return { value: result.value.value, hit: result.outcome === "hit" };
  }

  /** Records that `id` exists (the writer calls it when the record is finished). */
  async markExists(id: string): Promise<void> {
    await this.#exists.setPromise(Promise.resolve({ id, exists: true }), id, "immutable");
  }

  /**
   * Whether `id` exists: `true` from the pre-warmed flag, else from `check` (whose
   * `true` is then cached; `false` never is).
   */
  async exists(id: string, check: () => Promise<boolean>): Promise<boolean> {
    const result = await this.#exists.getOrSet(
      id,
      "immutable",
      async () => ({ id, exists: await check() }),
    );
    return result.value.exists;
  }
}
