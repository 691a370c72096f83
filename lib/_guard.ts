/**
 * Deadlines and a circuit breaker for Redis calls.
 *
 * node-redis's `commandOptions.timeout` only bounds the time before a command is written;
 * once written, a paused or stalled Redis can keep the caller waiting forever. Every cache
 * call therefore races its reply against a deadline. A call that times out opens the
 * breaker for `breakerMs`: calls during that time skip Redis at once instead of queueing
 * more commands behind the stalled ones (the circuit-breaker pattern BentoCache uses).
 *
 * The breaker is kept per object: the client for one Redis node, the master serving the
 * key's slot on a Redis Cluster (`shardOf` in `_cluster.ts`), so one stalled master makes
 * only its own slots skip Redis.
 *
 * @module
 */

/** Thrown when Redis did not reply within the deadline. */
export class RedisTimeoutError extends Error {
  readonly code = "REDIS_TIMEOUT";
  constructor(readonly timeoutMs: number) {
    super(`Redis did not reply within ${timeoutMs} ms`);
    this.name = "RedisTimeoutError";
  }
}

const openUntil = new WeakMap<object, number>();

/** Whether calls to `client` (a client or a cluster master) may be made now (the breaker is closed). */
export function breakerClosed(client: object): boolean {
  const until = openUntil.get(client);
  return until === undefined || until <= Date.now();
}

/**
 * Runs one Redis call with a reply deadline.
 *
 * @throws {RedisTimeoutError} If no reply came within `timeoutMs` (the breaker opens).
 * @throws Whatever the call itself throws.
 */
export async function withDeadline<T>(
  client: object,
  timeoutMs: number,
  breakerMs: number,
  call: Promise<T>,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisTimeoutError(timeoutMs)), timeoutMs);
  });
  try {
    return await Promise.race([call, deadline]);
  } catch (error) {
    if (error instanceof RedisTimeoutError) openUntil.set(client, Date.now() + breakerMs);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
