/**
 * The fleet fill lock: the Redis side of fleet-wide single flight.
 *
 * One lock per data key, `{<dataKey>}:lock` (a Redis Cluster hash tag, so the lock and
 * its data key share a hash slot and every script below runs on one node). Its value is
 * the leader's random token: taken with `SET NX PX`, extended and released only by
 * token-checked scripts (never a plain `DEL`), so a leader whose lease expired can
 * neither delete nor extend a newer leader's lock, and its late write is refused
 * (the data key is written only while the writer's token still holds the lock: a
 * fencing check done atomically in the same script as the `SET`).
 *
 * Following the Redis docs' single-instance lock pattern ("Distributed Locks with Redis",
 * the compare-and-delete release script).
 *
 * @module
 */

/** Release: delete the lock only if it still holds our token. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** Extend: reset the lease only if the lock still holds our token. */
const EXTEND =
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/** Fenced write: SET the data key only while our token holds the lock. */
const WRITE = `if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0`;

/** Take over: set our token if the lock is free or still holds the token we waited on. */
const TAKE_OVER = `local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;

/** Fail: replace our lock by a short-lived failure marker followers can read. */
const FAIL = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;

/** Poll: the data key, the lock's value and its remaining lease, in one round trip. */
const POLL =
  `return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2]), redis.call('PTTL', KEYS[2])}`;

/** Prefix of a lock value that marks a failed fill: `failed:<token>:<message>`. */
export const FAILED_MARKER = "failed:";

/**
 * The lock key of a data key, in the same Redis Cluster hash slot.
 *
 * A key's slot is the CRC16 of its hash tag (the first `{…}` with something inside) or,
 * without one, of the whole key (Redis Cluster specification, "Hash tags"). A data key
 * with a tag keeps it (`<dataKey>:lock`); one without is wrapped (`{<dataKey>}:lock`).
 *
 * @throws {TypeError} If the key has no hash tag but contains `}` (no lock key could share
 *   its slot through a tag).
 */
export function lockKeyFor(dataKey: string): string {
  const open = dataKey.indexOf("{");
  const close = open >= 0 ? dataKey.indexOf("}", open + 1) : -1;
  if (open >= 0 && close > open + 1) return `${dataKey}:lock`;
  if (dataKey.includes("}")) {
    throw new TypeError(`Cannot derive a same-slot lock key for '${dataKey}': it contains '}'`);
  }
  return `{${dataKey}}:lock`;
}

/** The minimal client surface the lock needs (node-redis). */
export interface LockClient {
  set(key: string, value: string, options: object): Promise<unknown>;
  get(key: string): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/**
 * One process's handle on the fill lock of one data key.
 *
 * Every method sends one command and lets Redis errors propagate: the caller degrades
 * to local single flight on any of them (`lock_error`).
 */
export class FillLock {
  /** This handle's token (random, 128 bits). */
  readonly token: string = crypto.randomUUID();
  readonly lockKey: string;

  /**
   * @param call Wraps every command (the cache's reply deadline and circuit breaker).
   * @param leaseMs The lease of an acquired or extended lock.
   */
  constructor(
    private readonly client: LockClient,
    private readonly call: <R>(command: Promise<R>) => Promise<R>,
    readonly dataKey: string,
    readonly leaseMs: number,
  ) {
    this.lockKey = lockKeyFor(dataKey);
  }

  /** `SET <lockKey> <token> NX PX leaseMs`: whether we are now the leader. */
  async tryAcquire(): Promise<boolean> {
    const reply = await this.call(this.client.set(this.lockKey, this.token, {
      condition: "NX",
      expiration: { type: "PX", value: this.leaseMs },
    }));
    return reply === "OK";
  }

  /**
   * Takes the lock over from the leader holding `expected` (or from nobody, when it is
   * free or `expected` is the free lock's `null`). Atomic: of the followers that try to
   * take over from the same leader, exactly one succeeds.
   */
  async takeOver(expected: string | null): Promise<boolean> {
    return await this.#script(TAKE_OVER, [this.lockKey], [
      expected ?? "",
      this.token,
      String(this.leaseMs),
    ]) === 1;
  }

  /**
   * The data key's raw value, the lock's value (a token, a failure marker, or null) and
   * the lock's remaining lease in ms (negative when there is none). A lease that grew
   * between two polls shows the leader is alive and extending it.
   */
  async poll(): Promise<{ data: string | null; lock: string | null; leaseLeftMs: number }> {
    const reply = await this.#script(POLL, [this.dataKey, this.lockKey], []) as unknown[];
    const text = (v: unknown) => (typeof v === "string" ? v : null);
    return {
      data: text(reply?.[0]),
      lock: text(reply?.[1]),
      leaseLeftMs: Number(reply?.[2] ?? -2),
    };
  }

  /** Re-reads the data key (the leader's recheck after acquiring). */
  async readData(): Promise<string | null> {
    const value = await this.call(this.client.get(this.dataKey));
    return typeof value === "string" ? value : null;
  }

  /** Resets the lease to `leaseMs` if we still hold the lock; `false` when we lost it. */
  async extend(): Promise<boolean> {
    return await this.#script(EXTEND, [this.lockKey], [this.token, String(this.leaseMs)]) === 1;
  }

  /** Writes the data key if we still hold the lock; `false` (nothing written) otherwise. */
  async writeFenced(value: string, ttlS: number): Promise<boolean> {
    return await this.#script(WRITE, [this.dataKey, this.lockKey], [
      this.token,
      value,
      String(ttlS),
    ]) === 1;
  }

  /** Deletes the lock if we still hold it. */
  async release(): Promise<boolean> {
    return await this.#script(RELEASE, [this.lockKey], [this.token]) === 1;
  }

  /**
   * Replaces our lock by a failure marker for `markerMs`, so the followers waiting on us
   * learn the fill failed (and fail the same way) instead of waiting `waitMs`.
   */
  async fail(message: string, markerMs: number): Promise<void> {
    const marker = `${FAILED_MARKER}${this.token}:${message.slice(0, 300)}`;
    await this.#script(FAIL, [this.lockKey], [this.token, marker, String(markerMs)]);
  }

  #script(script: string, keys: string[], args: string[]): Promise<unknown> {
    return this.call(this.client.eval(script, { keys, arguments: args }));
  }
}

/** Parses a failure marker: the failed leader's token and message, or `undefined`. */
export function parseFailedMarker(
  lock: string | null,
): { token: string; message: string } | undefined {
  if (!lock?.startsWith(FAILED_MARKER)) return undefined;
  const rest = lock.slice(FAILED_MARKER.length);
  const colon = rest.indexOf(":");
  return colon < 0 ? undefined : { token: rest.slice(0, colon), message: rest.slice(colon + 1) };
}
