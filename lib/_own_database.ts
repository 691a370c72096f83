/**
 * `clearAll` of a `TimCacheC` that has a Redis database of its own (`ownsDatabase`): one
 * script that checks the database is the cache's, then `FLUSHDB ASYNC`.
 *
 * Why: a clear that deletes its keys one by one costs Redis's main thread about 4 to 6 µs
 * per key (key index drain or SCAN + UNLINK; docs/performance.md, "`clearAll` at national
 * size"), so clearing 300k keys either holds Redis for well over a second or, paced, takes
 * seconds while every other client waits behind it. `FLUSHDB ASYNC` detaches the database's
 * whole keyspace in O(1) on the main thread and frees it in Redis's background (lazyfree)
 * thread (the Redis docs, FLUSHDB: "ASYNC: flushes the database asynchronously"; measured
 * in a script on Redis 7.0: 1M keys detached in one call, `lazyfree_pending_objects` back at
 * 0 within 2 s).
 *
 * A flush deletes whatever the database holds, so the script refuses (and the clear falls
 * back to the key index) when the database is visibly not the cache's alone:
 * - its owner key {@linkcode OWNER_KEY}, set by each flush, names another cache;
 * - one of {@linkcode OWNER_SAMPLES} random keys (`RANDOMKEY`) is not one of the cache's
 *   (`cache_keys.ts`: `cache:<prefix>:…`, `{cache:<prefix>:…}:…`, `{cache:<prefix>}:…`).
 * A sample cannot prove a database holds nothing else: the contract stays "a database of its
 * own" (the option's documentation); the check catches a misconfiguration that left a
 * visible share of another's keys there.
 *
 * Fencing holds across the flush: the cache's generation key goes with it, so every fill
 * that started before is refused its write (`_fence.ts`: the write requires the generation
 * it noted), and the fills after it create a new one.
 *
 * @module
 */

import { cacheKeyPrefix } from "./cache_keys.ts";

/**
 * The key naming the cache that owns a database (`timcache:database-owner`), written by each
 * flush of an owning cache, right after it.
 */
export const OWNER_KEY = "timcache:database-owner";

/** Random keys a flush checks before it deletes a database. */
export const OWNER_SAMPLES = 16;

/**
 * KEYS: owner key. ARGV: prefix, `cache:<prefix>:`, `{cache:<prefix>`, samples. Returns
 * `{1, keys flushed}` or `{0, the owner or the foreign key that stopped it}`.
 */
const FLUSH_OWN = `local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return {0, 'owner ' .. owner} end
local function ours(key)
  if key == KEYS[1] or string.sub(key, 1, #ARGV[2]) == ARGV[2] then return true end
  if string.sub(key, 1, #ARGV[3]) ~= ARGV[3] then return false end
  local next = string.sub(key, #ARGV[3] + 1, #ARGV[3] + 1)
  return next == ':' or next == '}'
end
for _ = 1, tonumber(ARGV[4]) do
  local key = redis.call('RANDOMKEY')
  if not key then break end
  if not ours(key) then return {0, 'key ' .. key} end
end
local keys = redis.call('DBSIZE')
redis.call('FLUSHDB', 'ASYNC')
redis.call('SET', KEYS[1], ARGV[1])
return {1, keys}`;

/** The minimal client surface (node-redis, one node). */
export interface FlushClient {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** What {@linkcode flushOwnDatabase} did. */
export type OwnFlush =
  /** Flushed: `keys` were in the database (the cache's entries and bookkeeping keys). */
  | { flushed: true; keys: number }
  /** Refused: `reason` names the other owner or the foreign key found. */
  | { flushed: false; reason: string };

/**
 * Flushes the connection's database if it is the cache's own (see the module doc).
 *
 * @param prefix The cache's name.
 * @returns Whether it flushed, with the keys flushed or why not.
 * @throws Whatever the call throws (nothing was deleted if the script did not run).
 */
export async function flushOwnDatabase(
  client: FlushClient,
  call: <R>(command: Promise<R>) => Promise<R>,
  prefix: string,
): Promise<OwnFlush> {
  const [flushed, detail] = await call(client.eval(FLUSH_OWN, {
    keys: [OWNER_KEY],
    arguments: [
      prefix,
      cacheKeyPrefix(prefix),
      `{${cacheKeyPrefix(prefix).slice(0, -1)}`,
      String(OWNER_SAMPLES),
    ],
  })) as [number, number | string];
  return Number(flushed) === 1
    ? { flushed: true, keys: Number(detail) }
    : { flushed: false, reason: String(detail) };
}
