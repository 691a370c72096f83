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
 *   It then drains the set ({@linkcode drainIndex}): each call is one script that reads
 *   the next members (SSCAN from a cursor kept beside the set, `{cache:<prefix>}:idx:cursor`)
 *   and unlinks their keys, sized so that it holds Redis for about `clearCommandUs` (75 µs
 *   by default), with two such calls in flight. The keyspace is never scanned. (SPOP was
 *   measured first: popping random members of a 300k-member set cost about 4 µs each, more
 *   than the UNLINK.)
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

/** Where a drain keeps `<token> <SSCAN cursor>` between its calls. */
function cursorKeyFor(indexKey: string): string {
  return `${indexKey}:cursor`;
}

/**
 * KEYS: generation, index, draining, cursor. ARGV: new generation id, COMPLETE, token, '1'
 * to scan whatever the index says. Returns 'index' (the index was moved to draining, its
 * cursor set to `<token> 0`, a new complete index started) or 'scan' (index, draining and
 * cursor were dropped; a new index holds the token until the scan completes).
 */
const START = `redis.call('SET', KEYS[1], ARGV[1])
if ARGV[4] ~= '1' and redis.call('SISMEMBER', KEYS[2], ARGV[2]) == 1
    and redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('RENAME', KEYS[2], KEYS[3])
  redis.call('SADD', KEYS[2], ARGV[2])
  redis.call('SET', KEYS[4], ARGV[3] .. ' 0')
  return 'index'
end
redis.call('UNLINK', KEYS[2], KEYS[3], KEYS[4])
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
export interface ClearStart {
  /** `index`: drain it with {@linkcode drainIndex}; `scan`: SCAN, then {@linkcode markComplete}. */
  mode: "index" | "scan";
  /** The drain's token (its cursor names it), or the scan's (for {@linkcode markComplete}). */
  token: string;
}

/**
 * Starts a clear of the cache: moves its generation (fencing every fill in flight) and,
 * when its index is complete and no other clear is draining, hands the index over for
 * draining, all in one script.
 *
 * @param options `scan`: scan whatever the index says (after a drain lost its set).
 * @returns `index`: drain it with {@linkcode drainIndex}; `scan`: SCAN for the keys, then
 *   {@linkcode markComplete}.
 * @throws Whatever the call throws (nothing was changed if the script did not run).
 */
export async function startClear(
  client: IndexClient,
  call: IndexCall,
  keys: { generationKey: string; indexKey: string },
  options: { scan?: boolean } = {},
): Promise<ClearStart> {
  const token = `\u0000scan:${crypto.randomUUID()}`;
  const reply = await call(client.eval(START, {
    keys: [
      keys.generationKey,
      keys.indexKey,
      drainingKeyFor(keys.indexKey),
      cursorKeyFor(keys.indexKey),
    ],
    arguments: [crypto.randomUUID(), COMPLETE, token, options.scan ? "1" : "0"],
  }));
  return { mode: reply === "index" ? "index" : "scan", token };
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
 * KEYS: draining, cursor. ARGV: token, SSCAN COUNT, key prefix, COMPLETE.
 *
 * One batch of a drain: reads the next members of the draining set from the cursor saved
 * under the drain's token, unlinks their keys (`<prefix><member>`, which are not in KEYS:
 * the index exists on one node only, where a script may touch any key) and saves the new
 * cursor; at the end of the set, unlinks the set and the cursor (a set is freed in the
 * background, UNLINK being lazy for large values). Returns `{status, deleted, members read,
 * µs spent}`: status 0 more to do, 1 done, -1 the cursor is not this drain's (its set was
 * dropped by another clear's start, evicted, or this drain is done already).
 */
const DRAIN = `local state = redis.call('GET', KEYS[2])
local head = ARGV[1] .. ' '
if not state or string.sub(state, 1, #head) ~= head then return {-1, 0, 0, 0} end
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('UNLINK', KEYS[2])
  return {-1, 0, 0, 0}
end
local t0 = redis.call('TIME')
local reply = redis.call('SSCAN', KEYS[1], string.sub(state, #head + 1), 'COUNT', ARGV[2])
local keys = {}
for _, member in ipairs(reply[2]) do
  if member ~= ARGV[4] then keys[#keys + 1] = ARGV[3] .. member end
end
local deleted = 0
if #keys > 0 then deleted = redis.call('UNLINK', unpack(keys)) end
local status = 0
if reply[1] == '0' then
  redis.call('UNLINK', KEYS[1], KEYS[2])
  status = 1
else
  redis.call('SET', KEYS[2], head .. reply[1])
end
local t1 = redis.call('TIME')
return {status, deleted, #reply[2], (t1[1] - t0[1]) * 1000000 + (t1[2] - t0[2])}`;

/** Calls of {@linkcode drainIndex} in flight at once. */
const DRAIN_IN_FLIGHT = 2;

/** Server time per member read and key unlinked assumed before the first reply, in µs. */
const FIRST_US_PER_MEMBER = 3;

/** How a drain sizes its calls. */
export interface DrainPace {
  /** Server time each call aims at (SSCAN + UNLINK of its batch), in µs. */
  commandUs: number;
  /** At most this many members per call. */
  maxBatch: number;
}

/** What {@linkcode drainIndex} did. */
export interface Drained {
  /** Keys unlinked. */
  deleted: number;
  /**
   * The draining set or its cursor went away before the drain reached its end (another
   * clear's start dropped them, or they were evicted): keys it named may be left, so the
   * clear must scan (`startClear` with `scan`).
   */
  lost: boolean;
}

/**
 * Deletes every key the draining index names, one {@linkcode DRAIN} script per batch, two
 * in flight. The cursor lives in Redis (`{cache:<prefix>}:idx:cursor`, `<token> <cursor>`),
 * so a call does not wait for the previous reply: Redis runs the calls one after the other,
 * each from where the last stopped, and the round trip of one overlaps the run of the next.
 *
 * Each call's batch is sized so that it holds Redis for about `pace.commandUs`: the
 * script reports the server time it spent (`TIME`) and the members it read, and the next
 * batch is `commandUs / (µs per member)`, the cost per member being a moving average
 * (starting at 3 µs) that includes the call's fixed cost. A script runs atomically (no
 * other client's command runs during it), and Redis answers the other clients of an event
 * loop iteration after running everything it read in it, so another client's command waits
 * about one to two batches at most (docs/performance.md, "`clearAll` at national size").
 * SSCAN returns every member present for the whole iteration (nothing adds to a draining
 * set), possibly some twice; unlinking a key twice counts it once.
 *
 * @returns The keys unlinked, and whether the set was lost before its end.
 * @throws Whatever a call throws (the rest of the set stays for the next clear, which
 *   then scans).
 */
export async function drainIndex(
  client: IndexClient,
  call: IndexCall,
  keys: { indexKey: string; keyPrefix: string; token: string },
  pace: DrainPace,
): Promise<Drained> {
  const draining = drainingKeyFor(keys.indexKey);
  const cursor = cursorKeyFor(keys.indexKey);
  let usPerMember = FIRST_US_PER_MEMBER;
  let deleted = 0;
  let sent = 0;
  let doneAt = Infinity;
  let lostAt = Infinity;
  let failed: { error: unknown } | undefined;
  const batch = () =>
    String(Math.max(1, Math.min(pace.maxBatch, Math.floor(pace.commandUs / usPerMember))));
  const run = async () => {
    while (doneAt === Infinity && lostAt === Infinity && !failed) {
      const seq = sent++;
      try {
        const [status, n, members, us] = (await call(client.eval(DRAIN, {
          keys: [draining, cursor],
          arguments: [keys.token, batch(), keys.keyPrefix, COMPLETE],
        }))) as number[];
        deleted += Number(n);
        if (status === 1) doneAt = Math.min(doneAt, seq);
        else if (status === -1) lostAt = Math.min(lostAt, seq);
        else if (members > 0) {
          usPerMember = 0.7 * usPerMember + 0.3 * Math.max(0.1, Number(us) / Number(members));
        }
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: DRAIN_IN_FLIGHT }, run));
  if (failed) throw failed.error;
  // Calls sent after the one that reached the end find no cursor: only a miss before it
  // means the set went away early.
  return { deleted, lost: lostAt < doneAt };
}
