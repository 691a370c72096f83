/**
 * The key layout as `cache_keys.ts` tells it matches the keys the library writes: every
 * key of a cache (entry, fence, fill lock, generation, key index) names that cache.
 */
import assert from "node:assert/strict";
import { CACHE_KEY_PATTERN, cacheKeyPrefix, cachePrefixOf } from "./cache_keys.ts";
import { fenceKeyFor, generationKeyFor } from "./_fence.ts";
import { indexKeyFor } from "./_key_index.ts";
import { lockKeyFor } from "./fill_lock.ts";
import { TimCacheC } from "./tim_cache_c.ts";
import { RedisStore } from "./redis_store.ts";

Deno.test("cachePrefixOf() names the cache of every key the library writes for it", () => {
  const cache = new TimCacheC<{ id: string }, string, string>("po_items", {
    uniquenessHashFromParams: (params) => params.id,
    versionHashFromParams: (version) => version,
    parseData: () => ({ shouldStore: false, uniquenessHash: "", versionHash: "" }),
  }, { store: RedisStore.disabled(), log: () => {} });
  const prefix = cacheKeyPrefix("po_items");
  const entry = cache.keyFor("3f2a");
  assert.ok(entry.startsWith(prefix));
  assert.ok(new RegExp(`^${CACHE_KEY_PATTERN.replace("*", ".*")}$`).test(entry));
  for (const cluster of [false, true]) {
    const keys = [
      entry,
      fenceKeyFor(entry, cluster),
      lockKeyFor(entry, "2026-01-01|v", cluster),
      generationKeyFor(prefix),
      indexKeyFor(prefix),
      `${indexKeyFor(prefix)}:draining`,
      `${indexKeyFor(prefix)}:cursor`,
      cache.keyFor("r:run.1"),
    ];
    for (const key of keys) assert.equal(cachePrefixOf(key), "po_items", key);
  }
  for (const key of ["wb:cache_format", "swr:overview:x", "cache:", "cache::x", "{cache:}:gen"]) {
    assert.equal(cachePrefixOf(key), undefined, key);
  }
});
