/**
 * Stale-while-revalidate over epoch-aligned windows, with last-known-good persistence.
 *
 * `memo(key, windowMs, producer)`:
 *
 * - Windows are aligned to the epoch: `bucket = floor(now / windowMs)`, so every process
 *   and every client agrees on when a window turns (clients get the next boundary).
 * - A value computed in the current window is **fresh** and returned as is.
 * - A value from an older window is **stale**: it is returned at once, and one
 *   background refresh runs for the whole fleet (a per-window lock in Redis, `SET NX PX`,
 *   plus an in-process guard). The lock is not released: it also spaces out retries of
 *   a failing producer to one per `leaseMs` across the fleet.
 * - The last successful value is kept without expiry (last-known-good): a quiet page is
 *   never cold, and a failing producer leaves the last good value served (and logged).
 * - No value at all (**cold**): computed while the caller waits, once per process, and
 *   once for the fleet when possible (followers poll for the leader's value up to
 *   `waitMs`, then compute themselves).
 * - Keys are `swr:<tenant>:<key>`: two instances sharing one Redis never read each
 *   other's values.
 * - Without Redis (not configured, or down at the moment), the same behaviour holds in
 *   one process with an in-memory store.
 *
 * Each entry is a Redis hash (`bucket`, `computedAt`, `value`), so `invalidate()` can
 * mark it stale (bucket -1) without touching the value. Reads go through the L1 when one
 * is configured (kept coherent by client tracking, see `l1.ts`).
 *
 * On a Redis Cluster: every command names one key; the per-window locks
 * (`{swr:<tenant>:<key>}:<what>`) carry the entry's key as their hash tag, so an entry and
 * its locks live on one master (and fail over together); `invalidate()` without a key
 * scans every master.
 *
 * @module
 */
import { jitteredBackoffMs } from "./backoff.ts";
import type { FillPolicy } from "./fill_policy.ts";
import { checkFillPolicy } from "./fill_policy.ts";
import type { L1Cache } from "./l1.ts";
import type { RedisGuard } from "./_guard.ts";
import { mastersOf, scanNode } from "./_cluster.ts";
import { RedisStore } from "./redis_store.ts";
import { PendingInvalidations } from "./_pending_invalidations.ts";
import { escapeGlob } from "./_clear_all.ts";

/** How a memo call was served. */
export type SwrState =
  /** Computed in the current window. */
  | "fresh"
  /** From an older window, returned at once while one refresh runs in the background. */
  | "stale"
  /** There was no value: computed while the caller waited. */
  | "computed";

/** The result of {@linkcode StaleWhileRevalidate.memo}. */
export interface SwrResult<T> {
  /** The value: fresh, stale (a refresh runs in the background) or just computed. */
  value: T;
  /** Whether the value is fresh, stale or just computed. */
  state: SwrState;
  /** When the value was computed (epoch ms). */
  computedAt: number;
  /** The window length, in ms. */
  windowMs: number;
  /** When the current window ends (epoch ms): the moment a client should refresh. */
  nextBoundaryMs: number;
}

/** Options of {@linkcode StaleWhileRevalidate}. */
export interface SwrOptions {
  /** The instance (tenant) the keys belong to; non-empty, without `:`. */
  tenant: string;
  /**
   * The instance's Redis, shared by the processes of the instance; without one (or while
   * it is down) the memo lives in this process's memory. Its flush empties the memo.
   */
  store?: RedisStore;
  /** The in-process L1 for Redis reads; `false` for none. @default {the store's L1} */
  l1?: L1Cache | false;
  /** The clock (epoch ms); tests inject a fake one. @default {Date.now} */
  clock?: () => number;
  /** Refresh lock and cold-fill coordination. @default {lease 60 s, wait 30 s, polls 20-250 ms} */
  fill?: FillPolicy;
  /** Receives one JSON line per refresh (done or failed). @default {console.error} */
  log?: (line: string) => void;
}

interface Entry {
  bucket: number;
  computedAt: number;
  value: unknown;
}

const DEFAULT_FILL: FillPolicy = Object.freeze({
  leaseMs: 60_000,
  waitMs: 30_000,
  pollMinMs: 20,
  pollMaxMs: 250,
});

/** What `#lockOnce` gets from a Redis it could not use: take the in-process lock instead. */
const IN_PROCESS = Symbol("in-process lock");
const LOCK_IN_PROCESS_WHEN_UNREACHABLE = Object.freeze({ op: null, skipped: IN_PROCESS } as const);

/** Release: delete a lock only if it still holds our token. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * A stale-while-revalidate memo for windowed aggregates.
 *
 * @example Serve an overview recomputed once per 5-minute window
 * ```ts
 * const swr = new StaleWhileRevalidate({ tenant: "kano", store });
 * const { value, state, nextBoundaryMs } = await swr.memo("overview", 300_000, () => overview(db));
 * ```
 */
export class StaleWhileRevalidate {
  /** The tenant: the first segment of every memo key. */
  readonly tenant: string;
  readonly #redis: RedisGuard;
  readonly #l1: L1Cache | undefined;
  readonly #clock: () => number;
  readonly #fill: FillPolicy;
  readonly #log: (line: string) => void;
  /** The in-memory store (no Redis, or Redis down). */
  readonly #memory = new Map<string, Entry>();
  /** In-memory refresh locks: key → lock expiry (epoch ms). */
  readonly #memoryLocks = new Map<string, number>();
  /** Background refreshes and cold fills running in this process, by key. */
  readonly #running = new Map<string, Promise<Entry>>();
  /** Invalidations Redis did not get yet, retried in the background. */
  readonly #pending = new PendingInvalidations((key) => this.#invalidateInRedis(key));

  /**
   * A memo for one tenant.
   *
   * @throws {TypeError} If `tenant` is empty or contains `:`.
   * @throws {RangeError} If the fill policy breaks an invariant.
   */
  constructor(options: SwrOptions) {
    if (!options.tenant || options.tenant.includes(":")) {
      throw new TypeError(
        `Cannot create memo: tenant '${options.tenant}' must be non-empty without ':'`,
      );
    }
    this.tenant = options.tenant;
    const store = options.store ?? RedisStore.disabled();
    this.#redis = store.guard(
      {},
      (op, error) => this.#logLine({ event: "swr_error", op, error: message(error) }),
    );
    this.#l1 = options.l1 === false ? undefined : options.l1 ?? store.l1;
    this.#clock = options.clock ?? Date.now;
    this.#fill = checkFillPolicy(`swr:${options.tenant}`, options.fill ?? DEFAULT_FILL);
    this.#log = options.log ?? ((line) => console.error(line));
    store.caches.register(this);
  }

  /** Empties the in-memory store (flush-all; Redis is flushed by FLUSHDB). */
  flushLocal(): void {
    this.#memory.clear();
    this.#memoryLocks.clear();
  }

  /** The Redis key of a memo key: `swr:<tenant>:<key>`. */
  keyFor(key: string): string {
    return `swr:${this.tenant}:${key}`;
  }

  /**
   * The Redis key of one of `key`'s fleet locks (`what`: `fill:<bucket>` or
   * `refresh:<bucket>:<computedAt>`): `{swr:<tenant>:<key>}:<what>`, in the entry's hash slot
   * (unless the memo key itself contains `{` or `}`, which only moves the lock to another
   * slot: no command names both keys).
   */
  lockKeyFor(key: string, what: string): string {
    return `{${this.keyFor(key)}}:${what}`;
  }

  /**
   * The value of `key` for the current window of `windowMs` (see the module docs).
   *
   * @throws {RangeError} If `windowMs` is not a positive integer.
   * @throws Whatever `producer` throws, only when there is no value at all to serve.
   */
  async memo<T>(key: string, windowMs: number, producer: () => Promise<T>): Promise<SwrResult<T>> {
    if (!Number.isInteger(windowMs) || windowMs <= 0) {
      throw new RangeError(`memo('${key}'): 'windowMs' (${windowMs}) must be a positive integer`);
    }
    const bucket = Math.floor(this.#clock() / windowMs);
    const result = (entry: Entry, state: SwrState): SwrResult<T> => ({
      value: entry.value as T,
      state,
      computedAt: entry.computedAt,
      windowMs,
      nextBoundaryMs: (bucket + 1) * windowMs,
    });
    const read = await this.#read(key);
    const stored = read && this.#pending.covers(key, read.computedAt)
      ? { ...read, bucket: -1 }
      : read;
    // A value from this window, or from a later one (another process whose clock is ahead):
    // fresh. Counting a later window as stale would make two skewed processes refresh it
    // back and forth.
    if (stored && stored.bucket >= bucket) return result(stored, "fresh");
    if (stored) {
      this.#refreshInBackground(key, bucket, stored, producer);
      return result(stored, "stale");
    }
    return result(await this.#fillCold(key, bucket, producer), "computed");
  }

  /**
   * Marks `key` (or every key of this tenant) stale: the next read serves the last good
   * value and refreshes it. Nothing is deleted.
   *
   * Never throws. When Redis cannot be reached, the result is `pending`: this process
   * treats every value computed before the invalidation as stale at once, and retries the
   * invalidation in Redis in the background (backoff up to 5 s) until it lands, so it is
   * never silently lost.
   */
  async invalidate(key?: string): Promise<{ status: "invalidated" | "pending" }> {
    const at = this.#clock();
    for (const [k, entry] of this.#memory) if (key === undefined || k === key) entry.bucket = -1;
    if (await this.#invalidateInRedis(key)) return { status: "invalidated" };
    this.#pending.add(key, at);
    this.#logLine({
      event: "swr_invalidate_pending",
      key: key ?? "*",
      effect: "Redis unreachable: stale in this process now; retrying in Redis",
    });
    return { status: "pending" };
  }

  /** Marks stale in Redis; `false` when Redis could not be reached (some master, for all). */
  async #invalidateInRedis(key?: string): Promise<boolean> {
    if (key !== undefined) {
      const redisKey = this.keyFor(key);
      return await this.#redis.attempt(
        redisKey,
        { op: "invalidate", skipped: false },
        async (client, call) => {
          await call(client.hSet(redisKey, "bucket", "-1"));
          this.#l1?.delete(redisKey);
          return true;
        },
      );
    }
    const client = this.#redis.redis;
    if (!client) return false;
    // Every master (one node: itself), in parallel, even while its breaker is open; a
    // master that fails is logged.
    const done = await Promise.all(
      mastersOf(client).map((master) =>
        this.#redis.attemptOn(
          master.shard,
          {
            op: null,
            skipped: false,
            checkBreaker: false,
            failed: (error) => {
              this.#logLine({
                event: "swr_error",
                op: "invalidate",
                node: master.address,
                error: message(error),
              });
              return false;
            },
          },
          async (call) => {
            const node = await call(master.connect());
            const scan = { MATCH: `swr:${escapeGlob(this.tenant)}:*`, TYPE: "hash", COUNT: 500 };
            for await (const keys of scanNode(node, scan, call)) {
              await Promise.all(keys.map((k) => call(node.hSet(k, "bucket", "-1"))));
            }
            return true;
          },
        )
      ),
    );
    this.#l1?.deletePrefix(`swr:${this.tenant}:`);
    return done.every(Boolean);
  }

  async #read(key: string): Promise<Entry | undefined> {
    const redisKey = this.keyFor(key);
    return await this.#redis.attempt(
      redisKey,
      {
        op: null,
        skipped: this.#memory.get(key),
        // Redis down, or a foreign/broken value: the in-memory copy (if any) serves.
        failed: (error) => {
          if (!String(message(error)).startsWith("WRONGTYPE") && !(error instanceof SyntaxError)) {
            this.#logLine({ event: "swr_error", op: "read", error: message(error) });
          }
          return this.#memory.get(key);
        },
      },
      async (client, call) => {
        const l1 = this.#l1;
        const local = l1?.get<Entry>(redisKey);
        if (local) return local;
        const epoch = l1?.epoch ?? 0;
        const [bucket, computedAt, raw] = await call(
          client.hmGet(redisKey, ["bucket", "computedAt", "value"]),
        ) as (string | null)[];
        if (bucket === null || computedAt === null || raw === null) return undefined;
        const entry = {
          bucket: Number(bucket),
          computedAt: Number(computedAt),
          value: JSON.parse(raw),
        };
        if (!Number.isFinite(entry.bucket) || !Number.isFinite(entry.computedAt)) return undefined;
        l1?.set(redisKey, entry, raw.length * 2, epoch);
        return entry;
      },
    );
  }

  /** Stores an entry (in memory always, in Redis when reachable); `false` if Redis refused it. */
  async #write(key: string, entry: Entry): Promise<boolean> {
    this.#memory.set(key, entry);
    const redisKey = this.keyFor(key);
    return await this.#redis.attempt(
      redisKey,
      { op: "write", skipped: true, failed: () => false },
      async (client, call) => {
        await call(client.hSet(redisKey, {
          bucket: String(entry.bucket),
          computedAt: String(entry.computedAt),
          value: JSON.stringify(entry.value),
        }));
        this.#l1?.delete(redisKey);
        return true;
      },
    );
  }

  /**
   * Takes one of the fleet's locks on `key` (`what`: `fill:<bucket>` for a cold fill,
   * `refresh:<bucket>:<computedAt of the stale value>` for a refresh). Resolves a release
   * function when this process should compute (in-memory when Redis is unreachable), else
   * `undefined`. A refresh lock is kept until it expires (it spaces out retries of a
   * failing producer); a cold-fill lock is released when the fill fails, so the next
   * caller computes at once instead of waiting for a value that will not come.
   */
  async #lockOnce(key: string, what: string): Promise<(() => void) | undefined> {
    const lockKey = this.lockKeyFor(key, what);
    const token = crypto.randomUUID();
    const fleet = await this.#redis.attempt(
      lockKey,
      LOCK_IN_PROCESS_WHEN_UNREACHABLE,
      async (client, call) => {
        const reply = await call(client.set(lockKey, token, {
          condition: "NX",
          expiration: { type: "PX", value: this.#fill.leaseMs },
        }));
        if (reply !== "OK") return undefined;
        return () => {
          this.#redis.call(lockKey, client.eval(RELEASE, { keys: [lockKey], arguments: [token] }))
            .catch(() => {});
        };
      },
    );
    if (fleet !== IN_PROCESS) return fleet;
    const now = this.#clock();
    for (const [k, expiry] of this.#memoryLocks) if (expiry <= now) this.#memoryLocks.delete(k);
    if (this.#memoryLocks.has(lockKey)) return undefined;
    this.#memoryLocks.set(lockKey, now + this.#fill.leaseMs);
    return () => this.#memoryLocks.delete(lockKey);
  }

  #refreshInBackground<T>(
    key: string,
    bucket: number,
    stale: Entry,
    producer: () => Promise<T>,
  ): void {
    if (this.#running.has(key)) return;
    const refresh = (async () => {
      // One refresh per window and stale value for the whole fleet; a failed one is
      // retried after the lease (so a failing producer runs at most once per leaseMs).
      if (!(await this.#lockOnce(key, `refresh:${bucket}:${stale.computedAt}`))) return undefined;
      const started = performance.now();
      try {
        const value = await producer();
        const entry = { bucket, computedAt: this.#clock(), value };
        await this.#write(key, entry);
        this.#logLine({
          event: "swr_refresh",
          key,
          bucket,
          ms: round1(performance.now() - started),
        });
        return entry;
      } catch (error) {
        this.#logLine({
          event: "swr_refresh_failed",
          key,
          bucket,
          error: message(error),
          effect: "serving the last good value",
        });
        return undefined;
      }
    })();
    const tracked = refresh.then((entry) => entry as Entry);
    this.#running.set(key, tracked);
    tracked.finally(() => {
      if (this.#running.get(key) === tracked) this.#running.delete(key);
    });
  }

  async #fillCold<T>(key: string, bucket: number, producer: () => Promise<T>): Promise<Entry> {
    const running = this.#running.get(key);
    if (running) {
      const entry = await running;
      if (entry) return entry;
    }
    const fill = (async (): Promise<Entry> => {
      const lockWhat = `fill:${bucket}`;
      let release = await this.#lockOnce(key, lockWhat);
      if (!release) {
        // Another process is computing it: poll for its value until `waitMs`; when its
        // lock goes away without a value (the fill failed), take the lock at once.
        const waitMs = this.#fill.waitMs ?? this.#fill.maxWaitMs ?? DEFAULT_FILL.waitMs!;
        const deadline = performance.now() + waitMs;
        for (let attempt = 0; performance.now() < deadline && !release; attempt++) {
          const pauseMs = jitteredBackoffMs(attempt, {
            minMs: this.#fill.pollMinMs,
            maxMs: this.#fill.pollMaxMs,
          });
          await new Promise((r) => setTimeout(r, pauseMs));
          const stored = await this.#read(key);
          if (stored) return stored;
          release = await this.#lockOnce(key, lockWhat);
        }
      }
      try {
        const value = await producer();
        const entry = { bucket, computedAt: this.#clock(), value };
        // Not storable (undefined, or Redis refused it): the next caller computes at once.
        if (value === undefined || !(await this.#write(key, entry))) release?.();
        return entry;
      } catch (error) {
        release?.(); // a failed fill holds nobody up
        throw error;
      }
    })();
    this.#running.set(key, fill);
    try {
      return await fill;
    } finally {
      if (this.#running.get(key) === fill) this.#running.delete(key);
    }
  }

  /** Resolves when this process's background refreshes have settled (for tests and shutdown). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#running.values()]);
  }

  #logLine(event: Record<string, unknown>): void {
    this.#log(JSON.stringify({ tenant: this.tenant, ...event }));
  }
}

function message(error: unknown): string {
  return String((error as Error)?.message ?? error);
}

function round1(ms: number): number {
  return Math.round(ms * 10) / 10;
}
