/**
 * `TimCacheC`: the Redis-backed versioned cache of the plan.
 *
 * Each entry lives at `cache:<prefix>:<uniquenessHash>` (the stored form is in `_codec.ts`).
 * Writes get a TTL drawn uniformly from 15 to 30 days, so entries written together do not
 * expire together; a hit refreshes the TTL to 30 days (a version mismatch does not). Every
 * Redis call is guarded: Redis absent, down, slow or returning garbage makes a read a miss
 * and a write a no-op, never an exception. Writes are fenced (`_fence.ts`): a fill that
 * started before a clear, in any process, does not write after it. With a fill policy, a
 * miss is filled once for the whole fleet (`_fleet_fill.ts`).
 *
 * @module
 */
import { VersionedCache } from "./_versioned_cache.ts";
import type { FillResult, MissContext, StoreRead, WriteResult } from "./_store_contract.ts";
import {
  type CodecLimits,
  type DataCodec,
  type DecodedEntry,
  decodeEntry,
  encodeEntry,
  type Entry,
} from "./_codec.ts";
import type { OffThreadDeflate } from "./off_thread_deflate.ts";
import {
  beginFence,
  type Fence,
  fencedDelete,
  fencedWrite,
  type FencedWriteResult,
  generationKeyFor,
} from "./_fence.ts";
import { fleetFill } from "./_fleet_fill.ts";
import { checkFillPolicy, type FillPolicy } from "./fill_policy.ts";
import { DAY_S, type TimCacheCOptions } from "./_tim_cache_c_options.ts";
import type { RedisGuard } from "./_guard.ts";
import { indexKeyFor } from "./_key_index.ts";
import { isCluster } from "./_cluster.ts";
import { cacheKeyPrefix } from "./cache_keys.ts";
import { deepFreeze } from "./_freeze.ts";
import { PendingClears } from "./_pending_clears.ts";
import { CacheReport, hashOf } from "./_cache_report.ts";
import type { TtlRefreshRecord } from "./_ttl_refresh.ts";
import { clearAllInRedis } from "./_clear_all.ts";
import { readMany } from "./_batch_read.ts";
import type { L1Cache } from "./l1.ts";
import { ANY_VERSION, type CacheResult, type ClearResult, type HashFuncs } from "./types.ts";

export type { TimCacheCOptions };

const UNAVAILABLE: StoreRead<never> = Object.freeze({ kind: "unavailable" });
const MISS: StoreRead<never> = Object.freeze({ kind: "miss" });
/** How each guarded call of the cache falls back (see `RedisGuard.attempt`). */
const READ = Object.freeze({ op: "get", skipped: UNAVAILABLE });
const EXPIRE = Object.freeze({ op: "expire", skipped: undefined });
const DISCARD = Object.freeze({ op: "del", skipped: undefined, checkBreaker: false });

/**
 * A versioned cache in Redis with in-process and (with a fill policy) fleet-wide single
 * flight.
 *
 * @typeParam UniquenessParams What identifies an entry (e.g. project and presentation object).
 * @typeParam VersionParams What its version is computed from (e.g. a module's `last_run`).
 * @typeParam T The cached value; must survive `JSON.stringify` / `JSON.parse`.
 *
 * @example Read-through with a version
 * ```ts
 * const store = await RedisStore.connect("redis://127.0.0.1:6379");
 * const cache = new TimCacheC<{ poId: string }, { lastRun: string }, Items>("po_items", {
 *   uniquenessHashFromParams: (p) => p.poId,
 *   versionHashFromParams: (v) => v.lastRun,
 *   parseData: (d) => ({ shouldStore: d.status === "ok", uniquenessHash: d.poId, versionHash: d.lastRun }),
 * }, { store });
 * const { value, outcome } = await cache.getOrSet({ poId }, { lastRun }, () => queryItems(poId));
 * ```
 */
export class TimCacheC<UniquenessParams, VersionParams, T>
  extends VersionedCache<UniquenessParams, VersionParams, T> {
  /** The cache's name, the middle part of its keys. */
  readonly prefix: string;
  /** The cache's name in reports (its prefix). */
  readonly name: string;
  readonly #keyPrefix: string;
  readonly #generationKey: string;
  readonly #indexKey: string;
  readonly #redis: RedisGuard;
  readonly #minWriteTtlS: number;
  readonly #maxWriteTtlS: number;
  readonly #readRefreshTtlS: number;
  readonly #readRefreshSlackS: number;
  readonly #clearBatchSize: number;
  readonly #clearCommandUs: number;
  readonly #report: CacheReport;
  readonly #fill: FillPolicy | undefined;
  readonly #l1: L1Cache | undefined;
  readonly #ttlRefresh: TtlRefreshRecord;
  readonly #limits: CodecLimits;
  readonly #deflate: OffThreadDeflate;
  readonly #dataCodec: DataCodec<T> | undefined;
  readonly #persistent: boolean;
  readonly #pending: PendingClears;

  /**
   * A Redis-backed versioned cache named `prefix`.
   *
   * @param prefix The cache's name: non-empty, without `:` (so no prefix can be a prefix of
   *   another's keys). Glob characters are allowed; `clearAll` escapes them.
   * @throws {TypeError} If `prefix` is empty or contains `:`, no `store` is given, a
   *   persistent cache is given a fill policy, or `ownsDatabase` conflicts with another
   *   cache built on `store` (either way round).
   * @throws {RangeError} If the write TTL bounds are not `0 < min <= max`, a timeout is not
   *   positive, `clearBatchSize` or `clearCommandUs` is not positive, or the fill policy
   *   breaks an invariant (see `checkFillPolicy`).
   */
  constructor(
    prefix: string,
    hashFuncs: HashFuncs<UniquenessParams, VersionParams, T>,
    options: TimCacheCOptions<T>,
  ) {
    super(hashFuncs, options);
    if (!prefix || prefix.includes(":")) {
      throw new TypeError(
        `Cannot create cache: prefix '${prefix}' must be non-empty and must not contain ':'`,
      );
    }
    this.prefix = prefix;
    this.name = prefix;
    this.#limits = {
      compressAboveBytes: options.compressAboveBytes ?? 4096,
      offThreadAboveBytes: options.offThreadAboveBytes ?? 128 * 1024,
      maxValueBytes: options.maxValueBytes ?? 16 * 1024 * 1024,
    };
    this.#persistent = options.persistent ?? false;
    if (this.#persistent && options.fill) {
      throw new TypeError(
        `Cannot create cache '${prefix}': a persistent cache takes no fill policy`,
      );
    }
    this.#keyPrefix = cacheKeyPrefix(prefix);
    this.#generationKey = generationKeyFor(this.#keyPrefix);
    this.#indexKey = indexKeyFor(this.#keyPrefix);
    const store = options.store;
    if (!store) {
      throw new TypeError(`Cannot create cache '${prefix}': 'store' (a RedisStore) is required`);
    }
    this.#redis = store.guard(options, (op, error) => this.#report.error(op, error));
    this.#ttlRefresh = store.ttlRefresh;
    this.#deflate = store.deflate;
    this.#dataCodec = options.dataCodec;
    this.#minWriteTtlS = options.minWriteTtlS ?? 15 * DAY_S;
    this.#maxWriteTtlS = options.maxWriteTtlS ?? 30 * DAY_S;
    this.#readRefreshTtlS = options.readRefreshTtlS ?? 30 * DAY_S;
    this.#readRefreshSlackS = options.readRefreshSlackS ?? DAY_S;
    this.#clearBatchSize = options.clearBatchSize ?? 100;
    this.#clearCommandUs = options.clearCommandUs ?? 75;
    this.#report = new CacheReport(
      prefix,
      options.log ?? ((line) => console.error(line)),
      this.observers,
    );
    this.#fill = options.fill && checkFillPolicy(prefix, options.fill);
    this.#l1 = options.l1 === false ? undefined : options.l1 ?? store.l1;
    if (!(this.#minWriteTtlS > 0 && this.#minWriteTtlS <= this.#maxWriteTtlS)) {
      throw new RangeError(
        `Cannot create cache '${prefix}': write TTL bounds (${this.#minWriteTtlS} s, ` +
          `${this.#maxWriteTtlS} s) must satisfy 0 < min <= max`,
      );
    }
    if (!(this.#clearBatchSize >= 1 && this.#clearCommandUs > 0)) {
      throw new RangeError(
        `Cannot create cache '${prefix}': 'clearBatchSize' (${this.#clearBatchSize}) and ` +
          `'clearCommandUs' (${this.#clearCommandUs}) must be positive`,
      );
    }
    this.#pending = new PendingClears(
      (key) => this.#deleteInRedis(key),
      () =>
        clearAllInRedis({
          redis: this.#redis,
          prefix,
          ownsDatabase: options.ownsDatabase ?? false,
          keyPrefix: this.#keyPrefix,
          generationKey: this.#generationKey,
          indexKey: this.#indexKey,
          batchSize: this.#clearBatchSize,
          commandUs: this.#clearCommandUs,
          report: (op, error) => this.#report.error(op, error),
        }),
    );
    store.caches.register(this, { ownsDatabase: options.ownsDatabase ?? false });
  }

  /** The Redis key of an entry: `cache:<prefix>:<uniquenessHash>`. */
  keyFor(uniquenessHash: string): string {
    return this.#keyPrefix + uniquenessHash;
  }

  /** The Redis key of an entry (see {@linkcode TimCacheC.keyFor}). */
  protected override keyOf(uniquenessHash: string): string {
    return this.keyFor(uniquenessHash);
  }

  /** A write TTL in whole seconds, uniform in `[minWriteTtlS, maxWriteTtlS]`. */
  writeTtlS(): number {
    const span = this.#maxWriteTtlS - this.#minWriteTtlS;
    return this.#minWriteTtlS + Math.floor(Math.random() * (span + 1));
  }

  /** Detaches in-flight fills and drops this cache's L1 entries (flush-all empties Redis). */
  flushLocal(): void {
    this.cancelPendingWrites();
    this.#l1?.deletePrefix(this.#keyPrefix);
  }

  /** Clears not yet done in Redis (retried in the background), for metrics and admin pages. */
  get pendingClears(): { keys: number; all: boolean } {
    return this.#pending.size;
  }

  /**
   * An L1 hit, only while Redis is usable for the key: the L1 is coherent through Redis's
   * invalidations, which a disconnected (or stalled) connection does not deliver.
   */
  protected override peekLocal(uniquenessHash: string, version: string): T | undefined {
    const l1 = this.#l1;
    if (!l1 || this.#pending.covers(uniquenessHash)) return undefined;
    const key = this.keyFor(uniquenessHash);
    if (!this.#redis.client(key)) return undefined;
    const local = l1.get<Entry<T>>(key);
    return local && (version === ANY_VERSION || local.versionHash === version)
      ? local.data
      : undefined;
  }

  /** Reads one entry from the L1 or Redis; a broken entry is a miss. */
  protected readEntry(uniquenessHash: string, _wantedVersion: string): Promise<StoreRead<T>> {
    if (this.#pending.covers(uniquenessHash)) return Promise.resolve(UNAVAILABLE);
    const key = this.keyFor(uniquenessHash);
    // Not async, here or in the guarded call: the hit path saves two frames (the guard
    // never throws).
    return this.#redis.attempt(key, READ, (client, call) => {
      // The L1 was asked already (`peekLocal`, before the flight was registered).
      const epoch = this.#l1?.epoch ?? 0;
      return call(client.get(key) as Promise<string | null>).then(
        (raw) => this.#readDone(raw, key, uniquenessHash, epoch),
        (error: unknown) => {
          if (!String((error as Error)?.message).startsWith("WRONGTYPE")) throw error;
          this.#discard(key); // a foreign value under our key
          return MISS;
        },
      );
    });
  }

  /** A `GET`'s reply as a read: a hit (kept in the L1), or a miss (a broken entry is removed). */
  #readDone(
    raw: string | null,
    key: string,
    uniquenessHash: string,
    epoch: number,
  ): StoreRead<T> {
    if (raw === null) return MISS;
    const entry = this.#decode(raw, uniquenessHash);
    if (!entry) {
      // Defect 3 of the plan: a value that fails to parse (or belongs under another key, or
      // would inflate past maxValueBytes) is a miss, and is removed.
      this.#discard(key);
      return MISS;
    }
    this.#l1?.set(key, deepFreeze(entry), entry.jsonLength * 2, epoch);
    return { kind: "hit", versionHash: entry.versionHash, data: entry.data };
  }

  /**
   * The 30-day read refresh: `EXPIRE` on a hit, at most once a day per key and process
   * (remembered in a bounded LRU). A refresh is a write, so Redis invalidates the key in
   * every process's L1: refreshing on every hit would empty the L1s, and asking Redis for
   * the remaining TTL on every hit cost a third of a hit's throughput.
   */
  protected touchEntry(uniquenessHash: string, nowMs: number): void {
    const key = this.keyFor(uniquenessHash);
    if (this.#persistent || !this.#ttlRefresh.due(key, this.#readRefreshSlackS, nowMs)) return;
    // Not awaited: node-redis pipelines it with other traffic; the hit does not wait for it.
    this.#redis.attempt(
      key,
      EXPIRE,
      (client, call) => call(client.expire(key, this.#readRefreshTtlS)),
    );
  }

  /** The fence stamp of a fill of `uniquenessHash` starting now (see `_fence.ts`). */
  protected override async beginFill(uniquenessHash: string): Promise<Fence | undefined> {
    if (this.#pending.covers(uniquenessHash)) return undefined;
    const key = this.keyFor(uniquenessHash);
    return await this.#redis.attempt(
      key,
      { op: "fence", skipped: undefined },
      (client) => beginFence(client, this.#redis.call, key, this.#generationKey),
    );
  }

  /** Writes one entry to Redis (fenced against clears that started later), with the jittered write TTL. */
  protected async writeEntry(
    uniquenessHash: string,
    versionHash: string,
    data: T,
    fence: unknown,
  ): Promise<WriteResult> {
    const result = await this.#write(uniquenessHash, versionHash, data, fence as Fence);
    return result === "written"
      ? "stored"
      : result === "unavailable" || result === "error"
      ? "unavailable"
      : "skipped";
  }

  /** Encodes and writes one entry, fenced; reports the `set`. Never throws. */
  async #write(
    uniquenessHash: string,
    versionHash: string,
    data: T,
    fence: Fence,
    lock?: { key: string; token: string },
  ): Promise<FencedWriteResult | "unavailable" | "error" | "too_large" | "unencodable"> {
    const key = this.keyFor(uniquenessHash);
    if (this.#pending.covers(uniquenessHash)) return "unavailable";
    const started = performance.now();
    const failed = () => {
      this.#report.set(key, "error", started);
      return "error" as const;
    };
    return await this.#redis.attempt(
      key,
      { op: "set", skipped: "unavailable" as const, failed },
      async (client) => {
        const encoded = await encodeEntry(
          versionHash,
          data,
          this.#limits,
          this.#deflate,
          this.#dataCodec,
        );
        if ("refused" in encoded) {
          this.#report.set(key, encoded.refused, started);
          return encoded.refused; // the cache works; this value is just not kept
        }
        const written = await fencedWrite(client, this.#redis.call, {
          dataKey: key,
          generationKey: this.#generationKey,
          cluster: isCluster(client),
          fence,
          value: encoded.stored,
          ttlS: this.#persistent ? 0 : this.writeTtlS(),
          lock,
          index: { key: this.#indexKey, member: uniquenessHash },
        });
        this.#l1?.delete(key);
        this.#ttlRefresh.forget(key); // a rewritten entry gets its read refresh on the next hit
        this.#report.set(
          key,
          written === "written" ? "stored" : written,
          started,
          encoded.stored.length,
        );
        return written;
      },
    );
  }

  /** Deletes one entry in Redis and in this process's L1 (pending, retried, while Redis is unusable). */
  protected async deleteEntry(uniquenessHash: string): Promise<ClearResult> {
    this.#l1?.delete(this.keyFor(uniquenessHash));
    this.#ttlRefresh.forget(this.keyFor(uniquenessHash));
    const started = performance.now();
    const result = await this.#pending.clear(uniquenessHash);
    this.#report.clear(hashOf(this.keyFor(uniquenessHash)), result, started);
    return result;
  }

  /** Deletes every entry of this cache (SCAN + UNLINK in small batches; bumps the generation). */
  protected async deleteAll(): Promise<ClearResult> {
    this.#l1?.deletePrefix(this.#keyPrefix);
    const started = performance.now();
    const result = await this.#pending.clearAll();
    this.#report.clear("all", result, started);
    return result;
  }

  /** Deletes and fences one key in Redis; `false` when Redis could not be reached. */
  async #deleteInRedis(uniquenessHash: string): Promise<boolean> {
    const key = this.keyFor(uniquenessHash);
    return await this.#redis.attempt(key, { op: "del", skipped: false }, async (client) => {
      const graceMs = this.producerTimeoutMs + 60_000;
      await fencedDelete(client, this.#redis.call, key, graceMs, isCluster(client));
      return true;
    });
  }

  /**
   * Batched read-through: the values of many keys, with one `MGET` for every key the L1
   * does not hold (so N keys cost one round trip, not N; on a cluster, one `MGET` per hash
   * slot, all sent at once, so one round trip per master), a version check per key, and
   * the misses filled through the normal path in parallel (per-key single flight, and the
   * fleet fill lock when the cache has a policy). Hits refresh their TTL in the
   * background where due, without delaying the answer.
   *
   * @param requests One entry per wanted value, in the order of the results.
   * @param producer Computes the value of one request on a miss (`index` into `requests`).
   * @returns One {@linkcode CacheResult} per request, in order.
   * @throws Whatever a producer throws (the other requests' fills still run).
   */
  async getMany(
    requests: readonly { params: UniquenessParams; version: VersionParams }[],
    producer: (params: UniquenessParams, index: number) => Promise<T>,
  ): Promise<CacheResult<T>[]> {
    const started = performance.now();
    return await readMany({
      cache: this.prefix,
      observers: this.observers,
      started,
      hashes: requests.map((r) => this.hashesOf(r.params, r.version)),
      redis: this.#redis,
      l1: () => this.#l1,
      keyFor: (uniquenessHash) => this.keyFor(uniquenessHash),
      peekLocal: (uniquenessHash, versionHash) => this.peekLocal(uniquenessHash, versionHash),
      covered: (uniquenessHash) => this.#pending.covers(uniquenessHash),
      decode: (raw, uniquenessHash) => this.#decode(raw, uniquenessHash),
      touch: (uniquenessHash, nowMs) => this.touchEntry(uniquenessHash, nowMs),
      fill: (index) => {
        const { params, version } = requests[index];
        return this.getOrSet(params, version, () => producer(params, index));
      },
    });
  }

  /**
   * Fills a `getOrSet` miss: with a fill policy and a reachable Redis, once for the whole
   * fleet (`_fleet_fill.ts`); otherwise in this process (`no_policy`, `lock_error`).
   */
  protected override async fillMiss(miss: MissContext<T>): Promise<FillResult<T>> {
    const policy = this.#fill;
    const dataKey = this.keyFor(miss.uniquenessHash);
    const client = policy && !miss.unavailable ? this.#redis.client(dataKey) : undefined;
    const local = async (outcome: string): Promise<FillResult<T>> => {
      const started = performance.now();
      const result = await super.fillMiss(miss);
      const waitedMs = 0;
      this.#report.fill(dataKey, outcome, { waitedMs, computeMs: performance.now() - started });
      return result;
    };
    if (!policy || !client) return await local(policy ? "lock_error" : "no_policy");
    return await fleetFill({
      cache: this.prefix,
      policy,
      client,
      call: (command) => this.#redis.call(dataKey, command),
      dataKey,
      miss,
      decode: (raw) => this.#decode(raw, miss.uniquenessHash),
      write: (lock, value, fence) =>
        this.#write(miss.uniquenessHash, miss.versionHash, value, fence, {
          key: lock.lockKey,
          token: lock.token,
        }).then((result) => result === "unavailable" ? "error" : result),
      localFill: () => local("lock_error"),
      log: (outcome, fields) => this.#report.fill(dataKey, outcome, fields),
    });
  }

  /** A stored entry, if it is one of ours and belongs under `uniquenessHash`. */
  #decode(raw: string, uniquenessHash: string): DecodedEntry<T> | undefined {
    const entry = decodeEntry<T>(raw, this.#limits.maxValueBytes, this.#dataCodec);
    return entry && this.belongsTo(uniquenessHash, entry) ? entry : undefined;
  }

  /** Deletes a broken or foreign value under `key`, in the background. */
  #discard(key: string): void {
    this.#redis.attempt(key, DISCARD, (client, call) => call(client.del(key)));
  }
}
