/**
 * The fleet-wide write fence of `TimCacheC`: a fill that started before a clear, in any
 * process, cannot write after it.
 *
 * - **Per key**: `clear` stamps `{<dataKey>}:fence` (the data key's hash slot) with the
 *   Redis server's `TIME` in µs, in the same script that deletes the data key. A fill takes
 *   a stamp from the same node when it starts (after its miss, before its producer runs);
 *   the write script refuses when the fence stamp is not older than the fill's. The fence
 *   lives `fenceTtlMs`, longer than any fill may run (the producer timeout).
 * - **Per cache**: `clearAll` replaces the cache's generation `{cache:<prefix>}:gen` (a
 *   random id, created by the first fill) before deleting its keys; a fill notes the
 *   generation when it starts and its write is refused if it changed. On one Redis node the
 *   write script checks it atomically; on a Redis Cluster the generation lives in another
 *   slot, so the writer reads it right after writing and deletes what it wrote if it
 *   changed (a `clearAll` that ran meanwhile either saw the key in its scan or moved the
 *   generation first). `FLUSHDB` removes generations: a fill then finds none (or a new one).
 *
 * Clocks: stamps of one key come from one node (the master of its slot), so they compare
 * without skew; after a failover, within the clock skew between master and replica.
 *
 * @module
 */
import { sameSlotKey } from "./fill_lock.ts";

/** A fill's fence stamp: the node's time at its start (µs, as text) and the cache's generation. */
export interface Fence {
  /** Redis server time at the fence (`TIME`), in µs since the epoch, as a decimal string. */
  timeUs: string;
  /** The cache's generation (`{cache:<prefix>}:gen`) when the fence was taken. */
  generation: string;
}

/** Wraps one command for `key` (reply deadline, breaker). */
export type KeyedCall = <R>(key: string, command: Promise<R>) => Promise<R>;

/** The minimal client surface of the fence (node-redis, one node or a cluster). */
export interface FenceClient {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  get(key: string): Promise<unknown>;
  set(key: string, value: string): Promise<unknown>;
  del(key: string): Promise<unknown>;
}

const NOW_US = `local t = redis.call('TIME')
local now = t[1] .. string.format('%06d', tonumber(t[2]))`;

/** The node's time in µs (routed by KEYS[1], the data key). */
const TIME = `${NOW_US}
return now`;

/** The cache's generation, created if absent (KEYS[1] the generation key, ARGV[1] a new id). */
const GENERATION = `local g = redis.call('GET', KEYS[1])
if not g then redis.call('SET', KEYS[1], ARGV[1]) return ARGV[1] end
return g`;

/** Clear one key: stamp its fence with now, delete it. KEYS: data, fence. ARGV: fence TTL ms. */
const CLEAR = `${NOW_US}
redis.call('SET', KEYS[2], now, 'PX', ARGV[1])
return redis.call('DEL', KEYS[1])`;

/**
 * The fenced write. KEYS: data, fence, lock, [generation, [key index]] (the generation and
 * the index only on one node). ARGV: fill time µs, lock token ('' for none), generation,
 * value, TTL s ('0' for none), [index member]. Returns 1 written, 0 fenced by a clear, -1
 * the lock is not ours, -2 the generation moved. The data key and its index member are
 * written together (`_key_index.ts`).
 */
const WRITE = `local f = redis.call('GET', KEYS[2])
if f and tonumber(f) >= tonumber(ARGV[1]) then return 0 end
if ARGV[2] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[2] then return -1 end
if KEYS[4] and redis.call('GET', KEYS[4]) ~= ARGV[3] then return -2 end
if ARGV[5] == '0' then redis.call('SET', KEYS[1], ARGV[4])
else redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[5]) end
if KEYS[5] then redis.call('SADD', KEYS[5], ARGV[6]) end
return 1`;

/**
 * The fence key of a data key, in its hash slot.
 *
 * @throws {TypeError} On a cluster, for a key no key can share a slot with ({@linkcode sameSlotKey}).
 */
export function fenceKeyFor(dataKey: string, cluster = true): string {
  return sameSlotKey(dataKey, "fence", cluster);
}

/** The generation key of a cache whose keys start with `keyPrefix` (`cache:<prefix>:`). */
export function generationKeyFor(keyPrefix: string): string {
  return `{${keyPrefix.slice(0, -1)}}:gen`;
}

/** Takes the fence stamp of a fill of `dataKey` starting now (two commands, one round trip). */
export async function beginFence(
  client: FenceClient,
  call: KeyedCall,
  dataKey: string,
  generationKey: string,
): Promise<Fence> {
  const [timeUs, generation] = await Promise.all([
    call(dataKey, client.eval(TIME, { keys: [dataKey], arguments: [] })),
    call(
      generationKey,
      client.eval(GENERATION, { keys: [generationKey], arguments: [crypto.randomUUID()] }),
    ),
  ]);
  return { timeUs: String(timeUs), generation: String(generation) };
}

/** What {@linkcode fencedWrite} did. */
export type FencedWriteResult = "written" | "fenced" | "not_owner";

/** Options of {@linkcode fencedWrite}. */
export interface FencedWrite {
  dataKey: string;
  generationKey: string;
  /** Whether the client is a Redis Cluster (the generation is then checked after writing). */
  cluster: boolean;
  fence: Fence;
  value: string;
  /** TTL in seconds; 0 for none. */
  ttlS: number;
  /** The fill lock that must still hold `token` (a fleet leader's write). */
  lock?: { key: string; token: string };
  /**
   * One node only: the cache's key index and this entry's member in it, added in the same
   * script as the value (`_key_index.ts`).
   */
  index?: { key: string; member: string };
}

/**
 * Writes `value` unless a clear happened since `fence` was taken (or, with `lock`, the lock
 * no longer holds the token).
 *
 * @throws Whatever the Redis calls throw (the caller reports it; nothing was written, or
 *   on a cluster what was written is deleted if the generation moved).
 */
export async function fencedWrite(
  client: FenceClient,
  call: KeyedCall,
  write: FencedWrite,
): Promise<FencedWriteResult> {
  const { dataKey, generationKey, fence } = write;
  const fenceKey = fenceKeyFor(dataKey, write.cluster);
  const keys = [dataKey, fenceKey, write.lock?.key ?? fenceKey];
  if (!write.cluster) keys.push(generationKey);
  const index = write.cluster ? undefined : write.index;
  if (index) keys.push(index.key);
  const reply = Number(
    await call(
      dataKey,
      client.eval(WRITE, {
        keys,
        arguments: [
          fence.timeUs,
          write.lock?.token ?? "",
          fence.generation,
          write.value,
          String(write.ttlS),
          ...(index ? [index.member] : []),
        ],
      }),
    ),
  );
  if (reply === -1) return "not_owner";
  if (reply !== 1) return "fenced";
  if (write.cluster) {
    const generation = await call(generationKey, client.get(generationKey));
    if (generation !== fence.generation) {
      await call(dataKey, client.del(dataKey));
      return "fenced";
    }
  }
  return "written";
}

/**
 * Deletes `dataKey` and fences the fills in flight; resolves the number of keys deleted.
 *
 * @param fenceTtlMs How long the fence lives: longer than any fill may run, in ms.
 * @param cluster Whether the client is a Redis Cluster (see `sameSlotKey`).
 */
export async function fencedDelete(
  client: FenceClient,
  call: KeyedCall,
  dataKey: string,
  fenceTtlMs: number,
  cluster: boolean,
): Promise<number> {
  let fenceKey: string;
  try {
    fenceKey = fenceKeyFor(dataKey, cluster);
  } catch {
    // No same-slot fence key exists on this cluster: such a key is never written (its
    // fenced write cannot run either), so a plain delete is the whole clear.
    return Number(await call(dataKey, client.del(dataKey)));
  }
  const keys = [dataKey, fenceKey];
  return Number(
    await call(dataKey, client.eval(CLEAR, { keys, arguments: [String(fenceTtlMs)] })),
  );
}

/** Moves the cache's generation: every fill that started before is refused its write. */
export async function bumpGeneration(
  client: FenceClient,
  call: KeyedCall,
  generationKey: string,
): Promise<void> {
  await call(generationKey, client.set(generationKey, crypto.randomUUID()));
}
