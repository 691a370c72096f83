/**
 * The Redis key layout of the caches, for code outside the library that reads Redis (the
 * administrators' cache statistics) and so must not re-derive it:
 *
 * | key | what |
 * | --- | --- |
 * | `cache:<prefix>:<uniquenessHash>` | an entry of `TimCacheC` (an `ImmutableCache` adds `r:`/`e:` before the id) |
 * | `{cache:<prefix>:<uniquenessHash>}:fence` | the entry's clear fence (`_fence.ts`) |
 * | `{cache:<prefix>:<uniquenessHash>}:lock:<versionTag>` | the fill lock of one version (`fill_lock.ts`) |
 * | `{cache:<prefix>}:gen` | the cache's generation (`_fence.ts`) |
 * | `{cache:<prefix>}:idx`, `{cache:<prefix>}:idx:draining`, `{cache:<prefix>}:idx:cursor` | the cache's key index, the one a clear drains and its cursor (`_key_index.ts`) |
 * | `timcache:database-owner` | in a database a cache has to itself (`ownsDatabase`): the cache's prefix, written by each of its flushes (`_own_database.ts`) |
 *
 * A prefix is non-empty and has no `:`, so the prefix of a key is the text up to the next
 * `:` (or `}` in the hash-tagged bookkeeping keys).
 *
 * @module
 */

/** The start of every key of the caches. */
const ROOT = "cache:";

/**
 * The `SCAN MATCH` pattern of every cache entry of every cache (the bookkeeping keys, which
 * start with `{`, do not match).
 */
export const CACHE_KEY_PATTERN = `${ROOT}*`;

/**
 * The start of every entry key of the cache named `prefix`: `cache:<prefix>:`.
 *
 * @param prefix The cache's name (`TimCacheC`'s `prefix`).
 * @returns The key prefix, with its trailing `:`.
 * @example The key prefix of a cache
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(cacheKeyPrefix("po_items"), "cache:po_items:");
 * ```
 */
export function cacheKeyPrefix(prefix: string): string {
  return `${ROOT}${prefix}:`;
}

/**
 * The name of the cache a Redis key belongs to: the prefix of an entry key or of one of its
 * bookkeeping keys (fence, fill lock, generation, key index), or `undefined` for a key
 * that is not a cache's.
 *
 * @param key A Redis key, e.g. from `SCAN`.
 * @returns The cache's prefix, or `undefined`.
 * @example Entries and bookkeeping keys of one cache
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(cachePrefixOf("cache:po_items:3f2a"), "po_items");
 * assert.equal(cachePrefixOf("{cache:po_items}:gen"), "po_items");
 * assert.equal(cachePrefixOf("wb:cache_format"), undefined);
 * ```
 */
export function cachePrefixOf(key: string): string | undefined {
  let end: number;
  let start: number;
  if (key.startsWith(ROOT)) {
    start = ROOT.length;
    end = key.indexOf(":", start);
  } else if (key.startsWith(`{${ROOT}`)) {
    start = ROOT.length + 1;
    const colon = key.indexOf(":", start);
    const brace = key.indexOf("}", start);
    end = colon < 0 ? brace : brace < 0 ? colon : Math.min(colon, brace);
  } else return undefined;
  return end > start ? key.slice(start, end) : undefined;
}
