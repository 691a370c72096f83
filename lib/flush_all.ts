/**
 * `flushAllServerCaches()`: empties every server cache of this instance.
 *
 * @module
 */
import { mastersOf } from "./_cluster.ts";
import { RedisGuard } from "./_guard.ts";
import { flushLocalCaches } from "./_registry.ts";
import { getRedis, isRedisConfigured, type RedisClient, redisCommandTimeoutMs } from "./redis.ts";

/** What {@linkcode flushAllServerCaches} did. */
export interface FlushResult {
  /**
   * `flushed`: FLUSHDB ran (on every master of a cluster); `unavailable`: Redis is configured
   * but down (or some master could not be flushed, see `failedNodes`); `disabled`: no Redis.
   */
  redis: "flushed" | "unavailable" | "disabled";
  /** In-process caches whose in-flight writes were stopped (and in-memory ones emptied). */
  localCaches: number;
  /** The masters FLUSHDB failed on (`host:port`; `node` for a single Redis), if any. */
  failedNodes?: string[];
}

/**
 * Flushes the instance's own Redis database with `FLUSHDB ASYNC` (the Redis docs: the
 * keys are freed in a background thread, so the server keeps answering) and every
 * in-process cache, including values still being computed. On a Redis Cluster, FLUSHDB
 * runs on every master, in parallel (a FLUSHDB acts on the node it is sent to only).
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
  const guard = new RedisGuard({
    redis: () => redis,
    commandTimeoutMs: Math.max(redisCommandTimeoutMs(), 5000), // a large FLUSHDB may take a while
  });
  const failedNodes: string[] = [];
  await Promise.all(
    mastersOf(redis).map((master) =>
      guard.attemptOn(
        master.shard,
        {
          op: null,
          skipped: undefined,
          checkBreaker: false,
          failed: () => failedNodes.push(master.address),
        },
        (call) => call(master.connect().then((node) => node.flushDb("ASYNC"))),
      )
    ),
  );
  return failedNodes.length === 0
    ? { redis: "flushed", localCaches }
    : { redis: "unavailable", localCaches, failedNodes };
}
