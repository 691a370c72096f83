/**
 * The Redis side of `TimCacheC.clearAll`: moves the cache's generation (fencing every
 * fill in flight, `_fence.ts`), then deletes its keys.
 *
 * A cache with a database of its own (`ownsDatabase`) flushes it (`_own_database.ts`):
 * `FLUSHDB ASYNC` after checking the database is the cache's, which also drops the
 * generation (fencing as well). When the check refuses, the clear goes on as below.
 *
 * On one node with a complete key index (`_key_index.ts`), it drains the index: one script
 * per batch reads members and unlinks their keys, each batch sized to hold Redis for about
 * `commandUs`, without scanning the keyspace. Otherwise (no trusted index, a drain that
 * lost its set, or a cluster): SCAN with MATCH on the cache's own prefix (never KEYS),
 * UNLINK per batch; on a cluster every master is scanned, in parallel, and each batch is
 * deleted with one UNLINK per slot.
 *
 * @module
 */
import { groupBySlot, isCluster, mastersOf } from "./_cluster.ts";
import { bumpGeneration } from "./_fence.ts";
import { flushOwnDatabase } from "./_own_database.ts";
import type { RedisGuard } from "./_guard.ts";
import {
  type ClearStart,
  drainIndex,
  type IndexClient,
  markComplete,
  startClear,
} from "./_key_index.ts";
import type { RedisClient } from "./redis.ts";

/** The cache whose keys {@linkcode clearAllInRedis} deletes. */
export interface ClearTarget {
  /** The cache's guard (its client, deadline and breaker). */
  redis: RedisGuard;
  /** The cache's name (its prefix). */
  prefix: string;
  /** The cache has its store's database to itself (`ownsDatabase`): flush it. */
  ownsDatabase: boolean;
  /** `cache:<prefix>:`, the start of every key of the cache. */
  keyPrefix: string;
  /** The cache's generation key (`generationKeyFor`). */
  generationKey: string;
  /** The cache's key index (`indexKeyFor`). */
  indexKey: string;
  /** Keys deleted per command at most (index batch, SCAN COUNT). */
  batchSize: number;
  /** Server time each index drain call aims at, in µs (`drainIndex`). */
  commandUs: number;
  /** Reports a failed call (`clear_all`). */
  report(op: string, error: unknown): void;
}

/** The per-node calls of a clear: reported as `clear_all`, tried whatever the breaker says. */
const CLEAR_ALL = Object.freeze({ op: "clear_all", skipped: undefined, checkBreaker: false });

/**
 * Deletes every key of `target` in Redis (see the module doc).
 *
 * @returns The number of keys deleted, or `undefined` when Redis or some master could not
 *   be reached (the clear is then pending). Never rejects.
 */
export async function clearAllInRedis(target: ClearTarget): Promise<number | undefined> {
  const client = target.redis.redis;
  if (!client) return undefined;
  let start: ClearStart | undefined;
  let drained = 0;
  try {
    if (isCluster(client)) {
      if (target.ownsDatabase) {
        target.report(
          "clear_all",
          new Error(`'ownsDatabase' of cache '${target.prefix}' has no effect on a Redis Cluster`),
        );
      }
      await bumpGeneration(client, target.redis.call, target.generationKey);
    } else if (!target.redis.breakerClosed(client)) throw new Error("Redis skipped (breaker open)");
    else {
      const call = <R>(command: Promise<R>) => target.redis.on(client, command);
      if (target.ownsDatabase) {
        const flush = await flushOwnDatabase(client, call, target.prefix);
        if (flush.flushed) return flush.keys;
        target.report(
          "clear_all",
          new Error(
            `Not flushing the database of cache '${target.prefix}': it is not the cache's ` +
              `alone (${flush.reason}); clearing the cache's keys one by one instead`,
          ),
        );
      }
      const keys = { generationKey: target.generationKey, indexKey: target.indexKey };
      start = await startClear(client, call, keys);
      if (start.mode === "index") {
        const drain = await drainKeyIndex(target, client, start.token);
        if (drain === undefined) return undefined;
        if (!drain.lost) return drain.deleted;
        // Another clear's start dropped the set, or it was evicted: keys it named may be
        // left, so scan (a start again: it fences anew and drops the index's mark).
        drained = drain.deleted;
        start = await startClear(client, call, keys, { scan: true });
      }
    }
  } catch (error) {
    target.report("clear_all", error);
    return undefined;
  }
  const deleted = await scanAndUnlink(target, client);
  if (deleted !== undefined && start?.mode === "scan") {
    const token = start.token;
    await target.redis.attemptOn(
      client,
      CLEAR_ALL,
      (call) => markComplete(client, call, target.indexKey, token),
    );
  }
  return deleted === undefined ? undefined : drained + deleted;
}

/**
 * Drains the index handed over by `startClear` (`drainIndex` in `_key_index.ts`), at most
 * `batchSize` keys per call, each call aiming at `commandUs` of server time.
 */
async function drainKeyIndex(
  target: ClearTarget,
  client: RedisClient,
  token: string,
) {
  const keys = { indexKey: target.indexKey, keyPrefix: target.keyPrefix, token };
  const pace = { commandUs: target.commandUs, maxBatch: target.batchSize };
  // On a failure the rest stays in the draining set: the retry (PendingClears) scans.
  return await target.redis.attemptOn(
    client,
    CLEAR_ALL,
    (call) => drainIndex(client as unknown as IndexClient, call, keys, pace),
  );
}

/** SCAN + UNLINK of the cache's keys on every master. */
async function scanAndUnlink(
  target: ClearTarget,
  client: RedisClient,
): Promise<number | undefined> {
  const match = escapeGlob(target.keyPrefix) + "*";
  const cluster = isCluster(client);
  const counts = await Promise.all(
    mastersOf(client).map(async (master) => {
      if (!target.redis.breakerClosed(master.shard)) {
        target.report("clear_all", new Error(`Redis ${master.address} skipped (breaker open)`));
        return undefined;
      }
      return await target.redis.attemptOn(master.shard, CLEAR_ALL, async (call) => {
        const node = await call(master.connect());
        const scan = { MATCH: match, COUNT: target.batchSize };
        const unlink = async (keys: string[]) => {
          const groups = cluster ? groupBySlot(keys) : [keys];
          const counts = await Promise.all(groups.map((group) => call(node.unlink(group))));
          return counts.reduce((sum: number, n) => sum + Number(n), 0);
        };
        // Small commands, at most a SCAN and the previous batch's UNLINK in flight: another
        // client's command waits behind one small command at most, and the round trips
        // of the two overlap.
        let deleted = 0;
        let cursor = "0";
        let unlinking = Promise.resolve(0);
        do {
          const [reply, count] = await Promise.all([call(node.scan(cursor, scan)), unlinking]);
          deleted += count;
          cursor = String(reply.cursor);
          unlinking = reply.keys.length > 0 ? unlink(reply.keys) : Promise.resolve(0);
        } while (cursor !== "0");
        return deleted + await unlinking;
      });
    }),
  );
  return counts.includes(undefined) ? undefined : counts.reduce((sum: number, n) => sum + n!, 0);
}

/** Escapes Redis glob metacharacters (`*`, `?`, `[`, `]`, `\`) so a pattern matches them literally. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => "\\" + c);
}
