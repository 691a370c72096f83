/**
 * `flushAllServerCaches()`: empties every server cache of this instance.
 *
 * @module
 */
import type { RedisStore } from "./redis_store.ts";

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
 * @param store The instance's Redis and the caches built on it.
 * @returns What was flushed; never throws for a Redis outage (see `redis: "unavailable"`).
 */
export async function flushAllServerCaches(store: RedisStore): Promise<FlushResult> {
  const localCaches = store.caches.flushLocal();
  if (!store.client) {
    return { redis: store.configured ? "unavailable" : "disabled", localCaches };
  }
  // A large FLUSHDB may take a while.
  const guard = store.guard({ commandTimeoutMs: Math.max(store.commandTimeoutMs, 5000) });
  const failedNodes: string[] = [];
  await Promise.all(
    store.masters().map((master) =>
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
