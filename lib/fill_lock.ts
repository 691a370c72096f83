/**
 * The fleet fill lock: the Redis side of fleet-wide single flight.
 *
 * One lock per data key **and version**, `{<dataKey>}:lock:<versionTag>` (a Redis Cluster
 * hash tag, so the lock, its data key and the key's fence share a hash slot and every
 * script below runs on one node): fills of two versions of one key are two flights, as in
 * the process. Its value is the leader's random token: taken with `SET NX PX`, extended and
 * released only by token-checked scripts (never a plain `DEL`), so a leader whose lease
 * expired can neither delete nor extend a newer leader's lock, and its late write is
 * refused (the data key is written only while the writer's token still holds the lock: a
 * fencing check done atomically in the same script as the `SET`, see `_fence.ts`).
 *
 * A leader that ends without writing leaves a short-lived marker in place of its token, so
 * its followers know at once: `failed:<token>:<message>` (its producer threw: they fail the
 * same way) or `unstored:<token>` (its value may not be stored: they compute for
 * themselves, in parallel).
 *
 * Following the Redis docs' single-instance lock pattern ("Distributed Locks with Redis",
 * the compare-and-delete release script).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { isCluster } from "./_cluster.ts";
import type { RedisClient } from "./redis.ts";

/** Release: delete the lock only if it still holds our token. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** Extend: reset the lease only if the lock still holds our token. */
const EXTEND =
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/** Take over: set our token if the lock is free or still holds the value we waited on. */
const TAKE_OVER = `local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;

/** Mark: replace our lock by a short-lived marker followers can read. */
const MARK = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;

/** Poll: the data key, the lock's value and its remaining lease, in one round trip. */
const POLL =
  `return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2]), redis.call('PTTL', KEYS[2])}`;

/**
 * A key in the same Redis Cluster hash slot as `dataKey`: `<dataKey>:<suffix>` when the data
 * key has a hash tag, else `{<dataKey>}:<suffix>`.
 *
 * A key's slot is the CRC16 of its hash tag (the first `{…}` with something inside) or,
 * without one, of the whole key (Redis Cluster specification, "Hash tags").
 *
 * @param cluster Whether the slot matters (a Redis Cluster). On one node any distinct key
 *   will do, so a data key with a `}` but no tag still gets `{<dataKey>}:<suffix>`.
 * @throws {TypeError} On a cluster, if the key has no hash tag but contains `}` (no key
 *   could share its slot through a tag).
 */
export function sameSlotKey(dataKey: string, suffix: string, cluster = true): string {
  const open = dataKey.indexOf("{");
  const close = open >= 0 ? dataKey.indexOf("}", open + 1) : -1;
  if (open >= 0 && close > open + 1) return `${dataKey}:${suffix}`;
  if (cluster && dataKey.includes("}")) {
    throw new TypeError(`Cannot derive a same-slot key for '${dataKey}': it contains '}'`);
  }
  return `{${dataKey}}:${suffix}`;
}

/** A short, key-safe tag of a version hash (16 hex digits of its SHA-256). */
export function versionTag(versionHash: string): string {
  return createHash("sha256").update(versionHash).digest("hex").slice(0, 16);
}

/**
 * The lock key of the fill of `dataKey` at `versionHash`, in the data key's hash slot.
 *
 * @throws {TypeError} See {@linkcode sameSlotKey}.
 */
export function lockKeyFor(dataKey: string, versionHash: string, cluster = true): string {
  return sameSlotKey(dataKey, `lock:${versionTag(versionHash)}`, cluster);
}

/** The minimal client surface the lock needs (node-redis). */
export interface LockClient {
  set(key: string, value: string, options: object): Promise<unknown>;
  get(key: string): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** What a lock holds, as followers read it. */
export type LockState =
  | { kind: "free" }
  | { kind: "held"; token: string }
  /** The leader's producer threw. */
  | { kind: "failed"; token: string; message: string }
  /** The leader's value may not be stored: followers compute for themselves. */
  | { kind: "unstored"; token: string };

/** Prefix of a lock value that marks a failed fill: `failed:<token>:<message>`. */
export const FAILED_MARKER = "failed:";
/** Prefix of a lock value that marks a fill whose value was not stored: `unstored:<token>`. */
export const UNSTORED_MARKER = "unstored:";

/** Reads a lock's value (`null` when there is no lock). */
export function parseLockValue(value: string | null): LockState {
  if (value === null) return { kind: "free" };
  if (value.startsWith(FAILED_MARKER)) {
    const rest = value.slice(FAILED_MARKER.length);
    const colon = rest.indexOf(":");
    return colon < 0
      ? { kind: "failed", token: rest, message: "" }
      : { kind: "failed", token: rest.slice(0, colon), message: rest.slice(colon + 1) };
  }
  if (value.startsWith(UNSTORED_MARKER)) {
    return { kind: "unstored", token: value.slice(UNSTORED_MARKER.length) };
  }
  return { kind: "held", token: value };
}

/**
 * One process's handle on the fill lock of one data key at one version.
 *
 * Every method sends one command and lets Redis errors propagate: the caller decides (a
 * follower degrades to its own fill; a leader's producer result is never affected).
 */
export class FillLock {
  /** This handle's token (random, 128 bits). */
  readonly token: string = crypto.randomUUID();
  /** The lock's key: `<dataKey>:lock`, in the data key's hash slot. */
  readonly lockKey: string;

  /**
   * A handle on the fleet-wide fill lock of one data key and version (not acquired yet).
   *
   * @param call Wraps every command (the cache's reply deadline and circuit breaker).
   * @param dataKey The data key being filled.
   * @param versionHash The version being filled.
   * @param leaseMs The lease of an acquired or extended lock.
   * @throws {TypeError} If no lock key can share the data key's slot ({@linkcode sameSlotKey}).
   */
  constructor(
    private readonly client: LockClient,
    private readonly call: <R>(command: Promise<R>) => Promise<R>,
    readonly dataKey: string,
    versionHash: string,
    readonly leaseMs: number,
  ) {
    this.lockKey = lockKeyFor(dataKey, versionHash, isCluster(client as RedisClient));
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
   * Takes the lock over from the value `expected` (a leader's token, a marker, or `null`
   * for a free lock). Atomic: of the followers that try to take over from the same value,
   * exactly one succeeds.
   */
  async takeOver(expected: string | null): Promise<boolean> {
    return await this.#script(TAKE_OVER, [this.lockKey], [
      expected ?? "",
      this.token,
      String(this.leaseMs),
    ]) === 1;
  }

  /**
   * The data key's raw value, the lock's raw value (or null) and its remaining lease in ms
   * (negative when there is none). A lease that grew between two polls shows the leader
   * is alive and extending it.
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

  /** Deletes the lock if we still hold it. */
  async release(): Promise<boolean> {
    return await this.#script(RELEASE, [this.lockKey], [this.token]) === 1;
  }

  /**
   * Replaces our lock by a failure marker for `markerMs`, so the followers waiting on us
   * learn the fill failed (and fail the same way) instead of waiting for it.
   */
  async fail(message: string, markerMs: number): Promise<void> {
    await this.#mark(`${FAILED_MARKER}${this.token}:${message.slice(0, 300)}`, markerMs);
  }

  /**
   * Replaces our lock by an "unstored" marker for `markerMs`: our value could not be shared
   * through Redis, so our followers compute for themselves at once (in parallel) instead of
   * taking the lock over one after another.
   */
  async markUnstored(markerMs: number): Promise<void> {
    await this.#mark(`${UNSTORED_MARKER}${this.token}`, markerMs);
  }

  async #mark(marker: string, markerMs: number): Promise<void> {
    await this.#script(MARK, [this.lockKey], [this.token, marker, String(Math.ceil(markerMs))]);
  }

  #script(script: string, keys: string[], args: string[]): Promise<unknown> {
    return this.call(this.client.eval(script, { keys, arguments: args }));
  }
}
