/**
 * The cache library: versioned caches in Redis (`TimCacheC`) and in memory (`TimCacheB`)
 * with single flight, and `RedisStore`, the one owner of the instance's Redis (one node or a
 * Redis Cluster) that every cache is built on.
 *
 * @module
 */
export { TimCacheC, type TimCacheCOptions } from "./tim_cache_c.ts";
export { TimCacheB, type TimCacheBOptions } from "./tim_cache_b.ts";
export { type RedisStatus, RedisStore, type RedisStoreOverOptions } from "./redis_store.ts";
export { OffThreadDeflate } from "./off_thread_deflate.ts";
export type { DataCodec } from "./_codec.ts";
export type {
  GuardedCall,
  RedisGuard,
  RedisGuardOptions,
  RedisTimeoutError,
  ShardCall,
} from "./_guard.ts";
export type { Flushable, LiveCaches } from "./_registry.ts";
export type { TtlRefreshRecord } from "./_ttl_refresh.ts";
export {
  connectRedis,
  redactRedisUrl,
  type RedisClient,
  type RedisClusterClient,
  type RedisConnection,
  type RedisNodeClient,
  type RedisOptions,
  type RedisTarget,
} from "./redis.ts";
export { CLUSTER_SLOTS, keySlot } from "./key_slot.ts";
export { CACHE_KEY_PATTERN, cacheKeyPrefix, cachePrefixOf } from "./cache_keys.ts";
export { type MasterNode, type ScanPage, scanPages } from "./_cluster.ts";
export { type BackoffOptions, jitteredBackoffMs } from "./backoff.ts";
export { flushAllServerCaches, type FlushResult } from "./flush_all.ts";
export {
  checkFillPolicy,
  DEFAULT_MAX_WAIT_MS,
  type FillPolicy,
  heartbeatMs,
  livenessWindowMs,
} from "./fill_policy.ts";
export { type CachePolicy, type CacheRegistry, defineCacheRegistry } from "./cache_registry.ts";
export { FillLock, lockKeyFor } from "./fill_lock.ts";
export {
  type BusDelivery,
  EventBus,
  type EventBusOptions,
  type PublishResult,
} from "./event_bus.ts";
export { SeenSet, type SeenSetOptions } from "./seen_set.ts";
export { CacheError, CacheFillError, CacheTimeoutError } from "./errors.ts";
export { L1Cache, type L1Options, type L1Stats } from "./l1.ts";
export {
  StaleWhileRevalidate,
  type SwrOptions,
  type SwrResult,
  type SwrState,
} from "./stale_while_revalidate.ts";
export {
  ANY_VERSION,
  type AnyVersion,
  type CacheOutcome,
  type CacheResult,
  type ClearResult,
  type HashFuncs,
  type ParsedData,
  type TimCache,
} from "./types.ts";
export { type CacheObserver, CacheObservers, type CacheOperation } from "./observe.ts";
export { ImmutableCache, type ImmutableCacheOptions } from "./immutable_cache.ts";
// The store-adapter contract (what `TimCacheC` and `TimCacheB` implement), for reading the
// protected members of their docs; not meant to be subclassed outside this library.
export type { VersionedCache } from "./_versioned_cache.ts";
export type {
  FillResult,
  MissContext,
  StoreRead,
  VersionedCacheOptions,
  WriteResult,
} from "./_store_contract.ts";
export type { Fence } from "./_fence.ts";
export type { ClusterNodeLike, InvalidatingClient, InvalidatingCluster } from "./l1.ts";
