/**
 * `SeenSet`: "has any process of this instance seen this id in the last `ttlS` seconds?",
 * for replay and duplicate detection.
 *
 * `add(id)` claims the id with `SET <prefix>:<id> 1 NX EX <ttlS>` on the instance's Redis, so
 * two processes that receive the same id agree on which one saw it first. The process also
 * remembers its own ids in memory (bounded, same TTL), which is all it has while Redis is
 * down: then an id seen by another process is not recognised, and the caller should treat
 * that as the weaker guarantee it is.
 *
 * @module
 */
import { LRUCache } from "lru-cache";
import type { RedisGuard } from "./_guard.ts";
import type { RedisStore } from "./redis_store.ts";

/** Options of {@linkcode SeenSet}. */
export interface SeenSetOptions {
  /** How long an id is remembered, in seconds. */
  ttlS: number;
  /** Ids remembered in memory at most. @default {100_000} */
  maxLocal?: number;
  /** The instance's Redis (`RedisStore.disabled()`: this process's ids only). */
  store: RedisStore;
  /** Reply deadline of a Redis call, in ms. @default {the store's `commandTimeoutMs`} */
  commandTimeoutMs?: number;
  /** How long a timed-out call keeps Redis skipped, in ms. @default {1000} */
  breakerMs?: number;
}

/**
 * A set of recently seen ids shared by the processes of one instance.
 *
 * @example Refuse a replayed token id
 * ```ts
 * const seen = new SeenSet("wb:mirror:jti", { store, ttlS: 120 });
 * if (!(await seen.add("3f0c…"))) throw new Error("replayed");
 * ```
 */
export class SeenSet {
  /** Key prefix in Redis: `<prefix>:<id>`. */
  readonly prefix: string;
  readonly #ttlS: number;
  readonly #local: LRUCache<string, true>;
  readonly #redis: RedisGuard;

  /**
   * A seen set under the Redis key prefix `prefix`.
   *
   * @throws {TypeError} If `prefix` is empty.
   * @throws {RangeError} If `ttlS` is not a positive integer.
   */
  constructor(prefix: string, options: SeenSetOptions) {
    if (!prefix) throw new TypeError("Cannot create seen set: 'prefix' must not be empty");
    if (!Number.isInteger(options.ttlS) || options.ttlS < 1) {
      throw new RangeError(
        `Cannot create seen set: 'ttlS' (${options.ttlS}) must be a positive integer`,
      );
    }
    this.prefix = prefix;
    this.#ttlS = options.ttlS;
    this.#local = new LRUCache({ max: options.maxLocal ?? 100_000, ttl: options.ttlS * 1000 });
    this.#redis = options.store.guard(options);
  }

  /**
   * Claims `id`.
   *
   * @returns `true` when no process of the instance had claimed it within `ttlS` (this call
   *   did); `false` when it was seen. With Redis unreachable, only this process's ids count.
   */
  async add(id: string): Promise<boolean> {
    if (this.#local.has(id)) return false;
    const key = `${this.prefix}:${id}`;
    // Redis skipped or failing: "OK", as only this process's ids count then.
    const reply = await this.#redis.attempt(
      key,
      { op: null, skipped: "OK" },
      (client, call) =>
        call(
          client.set(key, "1", { condition: "NX", expiration: { type: "EX", value: this.#ttlS } }),
        ),
    );
    // Only ids this process claimed are remembered here: one another process claimed may
    // be deleted there (its work failed) and must then be claimable again.
    if (reply !== "OK") return false;
    this.#local.set(id, true);
    return true;
  }

  /** Forgets `id` (after the work it guarded failed, so a retry is accepted). */
  async delete(id: string): Promise<void> {
    this.#local.delete(id);
    const key = `${this.prefix}:${id}`;
    // Not reached: the key expires by itself.
    await this.#redis.attempt(
      key,
      { op: null, skipped: 0 },
      (client, call) => call(client.del(key)),
    );
  }
}
