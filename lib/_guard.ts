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
export function withDeadline<T>(
  client: object,
  timeoutMs: number,
  breakerMs: number,
  call: Promise<T>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const entry: Pending = {
      deadline: performance.now() + timeoutMs,
      expire() {
        openUntil.set(client, Date.now() + breakerMs);
        reject(new RedisTimeoutError(timeoutMs));
      },
    };
    track(entry);
    call.then(
      (value) => untrack(entry) && resolve(value),
      (error) => untrack(entry) && reject(error),
    );
  });
}

/**
 * Deadlines are checked by one coarse ticker (every {@linkcode TICK_MS} while any call is
 * pending) rather than a timer per call: a timer per call cost about a quarter of a
 * cache hit's throughput (docs/performance.md). A deadline fires up to `TICK_MS` late.
 */
const TICK_MS = 10;

interface Pending {
  deadline: number;
  expire(): void;
}

const pending = new Set<Pending>();
let ticker: ReturnType<typeof setInterval> | undefined;

function track(entry: Pending): void {
  pending.add(entry);
  ticker ??= setInterval(() => {
    const now = performance.now();
    for (const waiting of pending) {
      if (waiting.deadline > now) continue;
      pending.delete(waiting);
      waiting.expire();
    }
    stopIfIdle();
  }, TICK_MS);
}

/** Removes a settled call; `false` when its deadline already fired. */
function untrack(entry: Pending): boolean {
  const present = pending.delete(entry);
  stopIfIdle();
  return present;
}

function stopIfIdle(): void {
  if (pending.size > 0 || ticker === undefined) return;
  clearInterval(ticker);
  ticker = undefined;
}
