/**
 * Flushes of the server's caches: the one a new release does at boot, and the record of the
 * last flush (shown on the administrators' cache page).
 *
 * Keys, all outside `cache:*`:
 *
 * | key                          | value                                                    |
 * | ---------------------------- | -------------------------------------------------------- |
 * | `wb:cache_format`            | the `CACHE_FORMAT_VERSION` the cached values are in      |
 * | `wb:release_flush:<format>`  | `SET NX EX 600` guard: the one process flushing for it   |
 * | `wb:last_flush`              | JSON {@linkcode FlushRecord} of the last flush           |
 *
 * A flush (`FLUSHDB`) removes these keys too, so each flush records them again afterwards.
 *
 * @module
 */
import type { FlushResult, RedisGuard, RedisStore } from "../lib/mod.ts";
import type { FlushRecord } from "./wire.ts";

/** Where the cache format of the stored values is recorded. */
export const CACHE_FORMAT_KEY = "wb:cache_format";
/** Where the last flush is recorded. */
export const LAST_FLUSH_KEY = "wb:last_flush";
/** The guard of the release flush of one format. */
export const releaseFlushGuardKey = (format: number): string => `wb:release_flush:${format}`;

export type { FlushRecord } from "./wire.ts";

/** The few Redis commands used here; a node and a cluster client both have them. */
interface KeyCommands {
  get(key: string): Promise<unknown>;
  set(
    key: string,
    value: string,
    options?: { condition?: "NX"; expiration?: { type: "EX"; value: number } },
  ): Promise<unknown>;
}

/** Options of {@linkcode FlushLog}. */
export interface FlushLogOptions {
  /** The instance's Redis. */
  store: RedisStore;
  /** The cache format to record after a flush. */
  formatVersion: number;
  /** Reply deadline of each Redis call, in ms. @default {1000} */
  timeoutMs?: number;
}

/**
 * The last flush of the instance: in Redis (shared by its processes) and in this process
 * (all there is without Redis).
 */
export class FlushLog {
  #local: FlushRecord | undefined;
  readonly #options: FlushLogOptions;
  readonly #guard: RedisGuard;

  /** A log on `options.store`, read and written within `options.timeoutMs`. */
  constructor(options: FlushLogOptions) {
    this.#options = options;
    this.#guard = options.store.guard({ commandTimeoutMs: options.timeoutMs ?? 1000 });
  }

  /**
   * Records a flush that just ran, and the cache format (the flush removed the old record).
   * Never throws: a Redis failure leaves only the local record.
   */
  async record(record: FlushRecord): Promise<void> {
    this.#local = record;
    const redis = this.#client();
    if (!redis) return;
    const call = this.#guard.call;
    await Promise.all([
      call(LAST_FLUSH_KEY, redis.set(LAST_FLUSH_KEY, JSON.stringify(record))),
      call(CACHE_FORMAT_KEY, redis.set(CACHE_FORMAT_KEY, String(this.#options.formatVersion))),
    ]).catch(() => {});
  }

  /** The last flush: Redis' record when it answers, else this process's. */
  async last(): Promise<FlushRecord | undefined> {
    const redis = this.#client();
    if (redis) {
      try {
        const text = await this.#guard.call(LAST_FLUSH_KEY, redis.get(LAST_FLUSH_KEY));
        if (typeof text === "string") return JSON.parse(text) as FlushRecord;
      } catch { /* fall back to the local record */ }
    }
    return this.#local;
  }

  #client(): KeyCommands | undefined {
    return this.#options.store.client as unknown as KeyCommands | undefined;
  }
}

/** What {@linkcode flushOnNewRelease} did. */
export type ReleaseFlushOutcome =
  /** The recorded format is the current one: nothing to do. */
  | "current"
  /** Nothing was recorded (a new Redis, or the record was evicted): recorded, not flushed. */
  | "recorded"
  /** Another format was recorded: this process flushed and recorded the current one. */
  | "flushed"
  /** Another process holds the guard for this format: it flushes. */
  | "other_process"
  /** No Redis (disabled, down, or too slow): skipped; the boot goes on. */
  | "unavailable";

/** Options of {@linkcode flushOnNewRelease}. */
export interface ReleaseFlushOptions {
  /** The instance's Redis. */
  store: RedisStore;
  /** `CACHE_FORMAT_VERSION`. */
  formatVersion: number;
  /** `SERVER_VERSION`, for the record. */
  serverVersion: string;
  /** Flushes every cache of the instance (`flushAllServerCaches`). */
  flush: () => Promise<FlushResult>;
  /** Records the flush (and the format). */
  flushLog: FlushLog;
  /** Reply deadline of each Redis call, in ms. @default {1000} */
  timeoutMs?: number;
}

/**
 * Flushes the instance's caches once per new cache format, at boot: when Redis records
 * another format than this release's. Of several processes booting together, the one that
 * wins `SET wb:release_flush:<format> NX EX 600` flushes (after checking the record again,
 * so a process that read the old record just before a flush does not flush twice); the
 * others go on at once. A missing record (a new Redis, or an evicted key) is recorded
 * without a flush: every cached value carries its format in its version hash, so values of
 * another format are never served either way; the flush frees their memory.
 *
 * Never throws and never waits long: Redis down or slow is `unavailable`.
 *
 * @example
 * ```ts
 * const outcome = await flushOnNewRelease({
 *   store, formatVersion: CACHE_FORMAT_VERSION, serverVersion: SERVER_VERSION,
 *   flush: () => flushAllServerCaches(store), flushLog,
 * });
 * ```
 */
export async function flushOnNewRelease(
  options: ReleaseFlushOptions,
): Promise<ReleaseFlushOutcome> {
  const redis = options.store.client as unknown as KeyCommands | undefined;
  if (!redis) return "unavailable";
  const call = options.store.guard({ commandTimeoutMs: options.timeoutMs ?? 1000 }).call;
  const guardKey = releaseFlushGuardKey(options.formatVersion);
  const format = String(options.formatVersion);
  try {
    const recorded = await call(CACHE_FORMAT_KEY, redis.get(CACHE_FORMAT_KEY));
    if (recorded === format) return "current";
    if (recorded === null || recorded === undefined) {
      await call(CACHE_FORMAT_KEY, redis.set(CACHE_FORMAT_KEY, format));
      return "recorded";
    }
    const won = await call(
      guardKey,
      redis.set(guardKey, String(Deno.pid), {
        condition: "NX",
        expiration: { type: "EX", value: 600 },
      }),
    );
    if (won !== "OK") return "other_process";
    const again = await call(CACHE_FORMAT_KEY, redis.get(CACHE_FORMAT_KEY));
    if (again === format || again === null || again === undefined) return "other_process";
    const result = await options.flush();
    await options.flushLog.record({
      at: new Date().toISOString(),
      by: `release ${options.serverVersion}`,
      reason: "release",
      redis: result.redis,
      serverVersion: options.serverVersion,
    });
    if (result.redis !== "flushed") return "unavailable";
    // The flush removed the guard; set it again so late processes of this boot skip at once.
    await call(
      guardKey,
      redis.set(guardKey, "done", { expiration: { type: "EX", value: 600 } }),
    ).catch(() => {});
    return "flushed";
  } catch {
    return "unavailable";
  }
}
