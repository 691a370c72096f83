/**
 * `TimCacheC`: the Redis-backed versioned cache of the plan.
 *
 * Each entry lives at `cache:<prefix>:<uniquenessHash>` as the JSON string
 * `{"versionHash": string, "data": T}`. Writes get a TTL drawn uniformly from 15 to 30
 * days, so entries written together do not expire together; a hit refreshes the TTL to
 * 30 days (a version mismatch does not). Every Redis call is guarded: Redis absent, down,
 * slow or returning garbage makes a read a miss and a write a no-op, never an exception.
 *
 * @module
 */
import { registerCache } from "./_registry.ts";
import { type StoreRead, VersionedCache, type VersionedCacheOptions } from "./_versioned_cache.ts";
import { breakerClosed, withDeadline } from "./_guard.ts";
import { getRedis, type RedisClient, redisCommandTimeoutMs } from "./redis.ts";
import type { HashFuncs } from "./types.ts";

const DAY_S = 24 * 60 * 60;

/** Options of {@linkcode TimCacheC}. */
export interface TimCacheCOptions extends VersionedCacheOptions {
  /** Where the client comes from; `undefined` means Redis is unavailable. @default {getRedis} */
  redis?: () => RedisClient | undefined;
  /** Shortest write TTL, in seconds. @default {15 days} */
  minWriteTtlS?: number;
  /** Longest write TTL, in seconds. @default {30 days} */
  maxWriteTtlS?: number;
  /** TTL set again on every hit, in seconds. @default {30 days} */
  readRefreshTtlS?: number;
  /** Keys deleted per `UNLINK` during `clearAll`. @default {1000} */
  clearBatchSize?: number;
  /** Reply deadline of each Redis call, in ms. @default {redisCommandTimeoutMs()} */
  commandTimeoutMs?: number;
  /** After a timed-out call, skip Redis for this long, in ms. @default {1000} */
  breakerMs?: number;
  /** Receives one JSON line per Redis failure (at most one per second per cache). */
  log?: (line: string) => void;
}

/**
 * A versioned cache in Redis with in-process single flight.
 *
 * @typeParam UniquenessParams What identifies an entry (e.g. project and presentation object).
 * @typeParam VersionParams What its version is computed from (e.g. a module's `last_run`).
 * @typeParam T The cached value; must survive `JSON.stringify` / `JSON.parse`.
 *
 * @example Read-through with a version
 * ```ts
 * const cache = new TimCacheC<{ poId: string }, { lastRun: string }, Items>("po_items", {
 *   uniquenessHashFromParams: (p) => p.poId,
 *   versionHashFromParams: (v) => v.lastRun,
 *   parseData: (d) => ({ shouldStore: d.status === "ok", uniquenessHash: d.poId, versionHash: d.lastRun }),
 * });
 * const { value, outcome } = await cache.getOrSet({ poId }, { lastRun }, () => queryItems(poId));
 * ```
 */
export class TimCacheC<UniquenessParams, VersionParams, T>
  extends VersionedCache<UniquenessParams, VersionParams, T> {
  /** The cache's name, the middle part of its keys. */
  readonly prefix: string;
  readonly #keyPrefix: string;
  readonly #redis: () => RedisClient | undefined;
  readonly #minWriteTtlS: number;
  readonly #maxWriteTtlS: number;
  readonly #readRefreshTtlS: number;
  readonly #clearBatchSize: number;
  readonly #log: (line: string) => void;
  readonly #commandTimeoutMs: number | undefined;
  readonly #breakerMs: number;
  #lastErrorLogMs = 0;

  /**
   * @param prefix The cache's name: non-empty, without `:` (so no prefix can be a prefix of
   *   another's keys). Glob characters are allowed; `clearAll` escapes them.
   * @throws {TypeError} If `prefix` is empty or contains `:`.
   * @throws {RangeError} If the write TTL bounds are not `0 < min <= max`.
   */
  constructor(
    prefix: string,
    hashFuncs: HashFuncs<UniquenessParams, VersionParams, T>,
    options: TimCacheCOptions = {},
  ) {
    super(hashFuncs, options);
    if (!prefix || prefix.includes(":")) {
      throw new TypeError(
        `Cannot create cache: prefix '${prefix}' must be non-empty and must not contain ':'`,
      );
    }
    this.prefix = prefix;
    this.#keyPrefix = `cache:${prefix}:`;
    this.#redis = options.redis ?? getRedis;
    this.#minWriteTtlS = options.minWriteTtlS ?? 15 * DAY_S;
    this.#maxWriteTtlS = options.maxWriteTtlS ?? 30 * DAY_S;
    this.#readRefreshTtlS = options.readRefreshTtlS ?? 30 * DAY_S;
    this.#clearBatchSize = options.clearBatchSize ?? 1000;
    this.#log = options.log ?? ((line) => console.error(line));
    this.#commandTimeoutMs = options.commandTimeoutMs;
    this.#breakerMs = options.breakerMs ?? 1000;
    if (!(this.#minWriteTtlS > 0 && this.#minWriteTtlS <= this.#maxWriteTtlS)) {
      throw new RangeError(
        `Cannot create cache '${prefix}': write TTL bounds (${this.#minWriteTtlS} s, ` +
          `${this.#maxWriteTtlS} s) must satisfy 0 < min <= max`,
      );
    }
    registerCache(this);
  }

  /** The Redis key of an entry: `cache:<prefix>:<uniquenessHash>`. */
  keyFor(uniquenessHash: string): string {
    return this.#keyPrefix + uniquenessHash;
  }

  /** A write TTL in whole seconds, uniform in `[minWriteTtlS, maxWriteTtlS]`. */
  writeTtlS(): number {
    const span = this.#maxWriteTtlS - this.#minWriteTtlS;
    return this.#minWriteTtlS + Math.floor(Math.random() * (span + 1));
  }

  /** Stops in-flight writes (flush-all already emptied Redis). */
  flushLocal(): void {
    this.cancelPendingWrites();
  }

  /** The client when Redis is usable now (connected, breaker closed), else `undefined`. */
  #client(): RedisClient | undefined {
    const client = this.#redis();
    return client && breakerClosed(client) ? client : undefined;
  }

  #call<R>(client: RedisClient, call: Promise<R>): Promise<R> {
    const timeoutMs = this.#commandTimeoutMs ?? redisCommandTimeoutMs();
    return withDeadline(client, timeoutMs, this.#breakerMs, call);
  }

  protected async readEntry(uniquenessHash: string): Promise<StoreRead<T>> {
    const client = this.#client();
    if (!client) return { kind: "unavailable" };
    const key = this.keyFor(uniquenessHash);
    let raw: string | null;
    try {
      raw = await this.#call(client, client.get(key)) as string | null;
    } catch (error) {
      if (String((error as Error)?.message).startsWith("WRONGTYPE")) {
        this.#discard(client, key); // a foreign value under our key
        return { kind: "miss" };
      }
      this.#report("get", error);
      return { kind: "unavailable" };
    }
    if (raw === null) return { kind: "miss" };
    const entry = decodeEntry<T>(raw);
    if (!entry) {
      // Defect 3 of the plan: a value that fails to parse is a miss, and is removed.
      this.#discard(client, key);
      return { kind: "miss" };
    }
    return { kind: "hit", versionHash: entry.versionHash, data: entry.data };
  }

  protected touchEntry(uniquenessHash: string): void {
    // Not awaited: node-redis pipelines it with other traffic; the hit does not wait for it.
    const client = this.#client();
    if (!client) return;
    this.#call(client, client.expire(this.keyFor(uniquenessHash), this.#readRefreshTtlS))
      .catch((error: unknown) => this.#report("expire", error));
  }

  protected async writeEntry(
    uniquenessHash: string,
    versionHash: string,
    data: T,
  ): Promise<boolean> {
    const client = this.#client();
    if (!client) return false;
    try {
      const entry = JSON.stringify({ versionHash, data });
      await this.#call(
        client,
        client.set(this.keyFor(uniquenessHash), entry, {
          expiration: { type: "EX", value: this.writeTtlS() },
        }),
      );
      return true;
    } catch (error) {
      this.#report("set", error);
      return false;
    }
  }

  protected async deleteEntry(uniquenessHash: string): Promise<void> {
    const client = this.#client();
    if (!client) return;
    try {
      await this.#call(client, client.del(this.keyFor(uniquenessHash)));
    } catch (error) {
      this.#report("del", error);
    }
  }

  /** SCAN with MATCH on this cache's own prefix (never KEYS), deleting with UNLINK. */
  protected async deleteAll(): Promise<void> {
    const client = this.#client();
    if (!client) return;
    const match = escapeGlob(this.#keyPrefix) + "*";
    try {
      let cursor = "0";
      do {
        const reply = await this.#call(
          client,
          client.scan(cursor, { MATCH: match, COUNT: this.#clearBatchSize }),
        );
        cursor = String(reply.cursor);
        if (reply.keys.length > 0) await this.#call(client, client.unlink(reply.keys));
      } while (cursor !== "0");
    } catch (error) {
      this.#report("clear_all", error);
    }
  }

  #discard(client: RedisClient, key: string): void {
    this.#call(client, client.del(key)).catch((error: unknown) => this.#report("del", error));
  }

  #report(op: string, error: unknown): void {
    const now = Date.now();
    if (now - this.#lastErrorLogMs < 1000) return;
    this.#lastErrorLogMs = now;
    this.#log(JSON.stringify({
      event: "cache_error",
      cache: this.prefix,
      op,
      error: String((error as Error)?.message ?? error),
    }));
  }
}

/** Parses a stored entry; `undefined` for anything that is not one of ours. */
function decodeEntry<T>(raw: string): { versionHash: string; data: T } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (
    typeof parsed !== "object" || parsed === null || Array.isArray(parsed) ||
    typeof (parsed as { versionHash?: unknown }).versionHash !== "string" ||
    !("data" in parsed)
  ) return undefined;
  return parsed as { versionHash: string; data: T };
}

/** Escapes Redis glob metacharacters (`*`, `?`, `[`, `]`, `\`) so a pattern matches them literally. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => "\\" + c);
}
