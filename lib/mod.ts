/**
 * The cache library: versioned caches in Redis (`TimCacheC`) and in memory (`TimCacheB`)
 * with single flight, and the instance's Redis connection.
 *
 * @module
 */
export { TimCacheC, type TimCacheCOptions } from "./tim_cache_c.ts";
export { TimCacheB, type TimCacheBOptions } from "./tim_cache_b.ts";
export {
  closeRedis,
  getRedis,
  initRedis,
  isRedisConfigured,
  redactRedisUrl,
  type RedisClient,
  type RedisOptions,
} from "./redis.ts";
export { flushAllServerCaches, type FlushResult } from "./flush_all.ts";
export { checkFillPolicy, type FillPolicy } from "./fill_policy.ts";
export { type CachePolicy, type CacheRegistry, defineCacheRegistry } from "./cache_registry.ts";
export { FillLock, lockKeyFor } from "./fill_lock.ts";
export { CacheError, CacheFillError } from "./errors.ts";
export {
  ANY_VERSION,
  type AnyVersion,
  type CacheOutcome,
  type CacheResult,
  type HashFuncs,
  type ParsedData,
  type TimCache,
} from "./types.ts";
