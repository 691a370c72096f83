/**
 * `flushAllServerCaches()`: empties every server cache of this instance.
 *
 * @module
 */
import { flushLocalCaches } from "./_registry.ts";
import { getRedis, isRedisConfigured, type RedisClient } from "./redis.ts";

/** What {@linkcode flushAllServerCaches} did. */
export interface FlushResult {
  /** `flushed`: FLUSHDB ran; `unavailable`: Redis is configured but down; `disabled`: no Redis. */
  redis: "flushed" | "unavailable" | "disabled";
  /** In-process caches whose in-flight writes were stopped (and in-memory ones emptied). */
  localCaches: number;
}

/**
 * Flushes the instance's own Redis database with `FLUSHDB ASYNC` (the Redis docs: the
 * keys are freed in a background thread, so the server keeps answering) and every
 * in-process cache, including values still being computed.
 *
 * The instance's Redis belongs to the instance (one database per instance), so FLUSHDB
 * removes nothing of anyone else's.
 *
 * @param redis The client to flush. @default {getRedis()}
 * @returns What was flushed; never throws for a Redis outage (see `redis: "unavailable"`).
 */
export async function flushAllServerCaches(
  redis: RedisClient | undefined = getRedis(),
): Promise<FlushResult> {
  const localCaches = flushLocalCaches();
  if (!redis) {
    return { redis: isRedisConfigured() ? "unavailable" : "disabled", localCaches };
  }
  try {
    await redis.flushDb("ASYNC");
    return { redis: "flushed", localCaches };
  } catch {
    return { redis: "unavailable", localCaches };
  }
}
