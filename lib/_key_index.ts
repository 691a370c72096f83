/**
 * The key index of a `TimCacheC` on one Redis node, so that `clearAll` deletes the cache's
 * own keys without scanning the whole keyspace (issue 16: in a national Redis of 1.8M
 * keys, a cache of 300k keys took a SCAN of every key to find, which cannot reach 150k
 * keys/s while another client's GETs stay within 2x their idle p99).
 *
 * - `{cache:<prefix>}:idx` is a set of the uniqueness hashes of the cache's entries. The
 *   fenced write adds the member in the same script that writes the value (`_fence.ts`),
 *   so no entry exists without its member.
 * - The index is trusted only while it holds the member {@linkcode COMPLETE}, which only a
 *   clear adds, at the moment after which every entry is written through the index. An
 *   index that was evicted, expired or flushed and then re-created by a write lacks it, so
 *   the next clear scans instead (and makes the index complete again).
 * - `clearAll` starts with one script ({@linkcode startClear}): move the generation (fencing
 *   every fill in flight), then, when the index is complete and no earlier clear is still
 *   draining, rename it to `{cache:<prefix>}:idx:draining` and start a new complete index.
 *   Otherwise it drops both and scans; once the scan has deleted every key that was there,
 *   the index (which every write since has gone through) is marked complete
 *   ({@linkcode markComplete}).
 *   It then reads the draining set a batch at a time (SSCAN) and unlinks those keys
 *   ({@linkcode drainIndex}): each command holds Redis for about as long as an UNLINK of
 *   one batch (100 keys by default), and the keyspace is never scanned. (SPOP was measured
 *   first: popping random members of a 300k-member set cost about 4 µs each, more than
 *   the UNLINK.)
 * - A draining set left by a clear that did not finish (its process died, Redis went away)
 *   makes the next clear scan, and that scan deletes everything the leftover named.
 *
 * Members of entries that expired or were evicted stay in the index until the next clear
 * (about 60 bytes each); a clear unlinks their keys, which no longer exist.
 *
 * A Redis Cluster has no index (the members would live in other slots than the entries, so
 * the write could not add them atomically): `clearAll` scans every master there.
 *
 * @module
 */

/** Wraps one command (reply deadline, breaker). */
export type IndexCall = <R>(command: Promise<R>) => Promise<R>;

/** The minimal client surface (node-redis, one node). */
export interface IndexClient {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  sScan(
    key: string,
    cursor: string,
    options: { COUNT: number },
  ): Promise<{ cursor: string | number; members: string[] }>;
  unlink(keys: string[]): Promise<unknown>;
}

/** The member that marks an index as complete (no uniqueness hash contains a NUL). */
export const COMPLETE = "\u0000complete";

/** The key index of a cache whose keys start with `keyPrefix` (`cache:<prefix>:`). */
export function indexKeyFor(keyPrefix: string): string {
  return `{${keyPrefix.slice(0, -1)}}:idx`;
}

/** Where a clear moves the index it drains. */
function drainingKeyFor(indexKey: string): string {
  return `${indexKey}:draining`;
}

/**
 * KEYS: generation, index, draining. ARGV: new generation id, COMPLETE, scan token.
 * Returns 'index' (the index was moved to draining, a new complete one started) or 'scan'
 * (both were dropped; a new index holds the scan token until the scan completes).
 */
const START = `redis.call('SET', KEYS[1], ARGV[1])
if redis.call('SISMEMBER', KEYS[2], ARGV[2]) == 1 and redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('RENAME', KEYS[2], KEYS[3])
  redis.call('SADD', KEYS[2], ARGV[2])
  return 'index'
end
redis.call('UNLINK', KEYS[2], KEYS[3])
redis.call('SADD', KEYS[2], ARGV[3])
return 'scan'`;

/**
 * KEYS: index. ARGV: scan token, COMPLETE. After a scan deleted every key that existed when
 * it started: the index has held every entry written since, if it still holds the token
 * (it was not dropped and re-created meanwhile). Returns 1 when marked complete.
 */
const MARK_COMPLETE = `if redis.call('SREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('SADD', KEYS[1], ARGV[2])
  return 1
end
return 0`;

/** How a clear goes on after {@linkcode startClear}. */
export type ClearStart =
  | { mode: "index" }
  | {
    mode: "scan";
    /** Pass to {@linkcode markComplete} once the scan has deleted every key. */
    token: string;
  };

/**
 * Starts a clear of the cache: moves its generation (fencing every fill in flight) and,
 * when its index is complete and no other clear is draining, hands the index over for
 * draining, all in one script.
 *
 * @returns `index`: drain it with {@linkcode drainBatch}; `scan`: SCAN for the keys, then
 *   {@linkcode markComplete}.
 * @throws Whatever the call throws (nothing was changed if the script did not run).
 */
export async function startClear(
  client: IndexClient,
  call: IndexCall,
  keys: { generationKey: string; indexKey: string },
): Promise<ClearStart> {
  const token = `\u0000scan:${crypto.randomUUID()}`;
  const reply = await call(client.eval(START, {
    keys: [keys.generationKey, keys.indexKey, drainingKeyFor(keys.indexKey)],
    arguments: [crypto.randomUUID(), COMPLETE, token],
  }));
  return reply === "index" ? { mode: "index" } : { mode: "scan", token };
}

/**
 * Marks the index complete after a scan that deleted every key present when the clear
 * started (unless the index was dropped meanwhile: the next clear scans again).
 *
 * @returns Whether the index is now trusted.
 */
export async function markComplete(
  client: IndexClient,
  call: IndexCall,
  indexKey: string,
  token: string,
): Promise<boolean> {
  const reply = await call(client.eval(MARK_COMPLETE, {
    keys: [indexKey],
    arguments: [token, COMPLETE],
  }));
  return Number(reply) === 1;
}

/**
 * Deletes every key the draining index names: SSCAN of the set `batchSize` members at a
 * time (a draining set is read by its own clear only, so nothing is missed), an UNLINK of
 * each batch's keys while the next batch is read, then an UNLINK of the set itself (freed
 * in the background). At most one SSCAN and one UNLINK are in flight: another client's
 * command waits behind one small command at most.
 *
 * @returns The keys unlinked.
 * @throws Whatever a call throws (the rest of the set stays for the next clear, which
 *   then scans).
 */
export async function drainIndex(
  client: IndexClient,
  call: IndexCall,
  keys: { indexKey: string; keyPrefix: string },
  batchSize: number,
): Promise<number> {
  const draining = drainingKeyFor(keys.indexKey);
  let deleted = 0;
  let cursor = "0";
  let unlinking = Promise.resolve(0);
  do {
    const [reply, count] = await Promise.all([
      call(client.sScan(draining, cursor, { COUNT: batchSize })),
      unlinking,
    ]);
    deleted += count;
    cursor = String(reply.cursor);
    const members = reply.members.filter((m) => m !== COMPLETE);
    unlinking = members.length > 0
      ? call(client.unlink(members.map((m) => keys.keyPrefix + m))).then(Number)
      : Promise.resolve(0);
  } while (cursor !== "0");
  deleted += await unlinking;
  await call(client.unlink([draining]));
  return deleted;
}
