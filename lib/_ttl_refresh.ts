/**
 * The TTL-refresh record of `TimCacheC`'s 30-day read refresh: when this process last
 * refreshed a key's TTL on a hit (`performance.now()` ms, passed in by the hit path, which
 * reads the clock anyway: a clock read costs up to a microsecond on a VM), for at most 100,000 keys, shared by every
 * cache of one `RedisStore` (keys carry their prefix) and created on first use: an LRU
 * allocates its slots up front.
 *
 * @module
 */
import { LRUCache } from "lru-cache";

/** When each key's TTL was last refreshed by this process (one per store). */
export class TtlRefreshRecord {
  #lastRefresh: LRUCache<string, number> | undefined;

  /**
   * Whether `key`'s TTL should be refreshed at `nowMs` (`performance.now()`), that is not
   * within `slackS` seconds of this process's last refresh of it (and records that it is).
   */
  due(key: string, slackS: number, nowMs: number): boolean {
    const refreshedAt = (this.#lastRefresh ??= new LRUCache<string, number>({ max: 100_000 }));
    const last = refreshedAt.get(key);
    if (last !== undefined && nowMs - last < slackS * 1000) return false;
    refreshedAt.set(key, nowMs);
    return true;
  }

  /** Forgets `key`'s last refresh: a rewritten or deleted entry is refreshed on its next hit. */
  forget(key: string): void {
    this.#lastRefresh?.delete(key);
  }
}
