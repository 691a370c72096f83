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
import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { Buffer } from "node:buffer";
import { observed, reportOperation } from "./observe.ts";
import { registerCache } from "./_registry.ts";
import {
  type FillResult,
  type MissContext,
  type StoreRead,
  VersionedCache,
  type VersionedCacheOptions,
} from "./_versioned_cache.ts";
import { CacheFillError } from "./errors.ts";
import { FillLock, parseFailedMarker } from "./fill_lock.ts";
import { checkFillPolicy, type FillPolicy } from "./fill_policy.ts";
import { breakerClosed, withDeadline } from "./_guard.ts";
import { byMaster, groupBySlot, isCluster, mastersOf, scanNode, shardOf } from "./_cluster.ts";
import type { L1Cache } from "./l1.ts";
import { getL1, getRedis, type RedisClient, redisCommandTimeoutMs } from "./redis.ts";
import { ANY_VERSION } from "./types.ts";
import type { CacheResult, HashFuncs } from "./types.ts";

const DAY_S = 24 * 60 * 60;

/**
 * When this process last refreshed a key's TTL (epoch ms), for at most 100,000 keys, shared
 * by every cache of the process (keys carry their prefix) and created on first use: an
 * LRU allocates its slots up front.
 */
let lastRefresh: LRUCache<string, number> | undefined;

/** Options of {@linkcode TimCacheC}. */
export interface TimCacheCOptions extends VersionedCacheOptions {
  /** Where the client comes from; `undefined` means Redis is unavailable. @default {getRedis} */
  redis?: () => RedisClient | undefined;
  /**
   * Store without a TTL and never refresh one: for immutable records (content-addressed
   * or finished). Bounded by Redis's `maxmemory` eviction only. @default {false}
   */
  persistent?: boolean;
  /** Shortest write TTL, in seconds. @default {15 days} */
  minWriteTtlS?: number;
  /** Longest write TTL, in seconds. @default {30 days} */
  maxWriteTtlS?: number;
  /** TTL set again on a hit, in seconds. @default {30 days} */
  readRefreshTtlS?: number;
  /**
   * A process refreshes a key's TTL on a hit at most once per this many seconds (so the
   * TTL stays above `readRefreshTtlS` minus this while the key is read). The refresh is a
   * write: Redis invalidates the key in every process's L1 (client tracking), so
   * refreshing on every hit would empty the L1s. @default {1 day}
   */
  readRefreshSlackS?: number;
  /**
   * Values whose JSON is longer than this are stored compressed (deflate-raw level 6,
   * base64, prefix `z1:`; see docs/performance.md for the codec measurements), in bytes.
   * @default {4096}
   */
  compressAboveBytes?: number;
  /**
   * Values longer than this once encoded are not stored (the operation is reported as
   * `set`/`too_large`, which the server counts), in bytes. @default {16 MiB}
   */
  maxValueBytes?: number;
  /**
   * Keys asked per `SCAN` (and deleted per `UNLINK` on one node) during `clearAll`.
   * @default {1000}
   */
  clearBatchSize?: number;
  /**
   * The in-process L1 in front of Redis; `false` for none.
   * @default {getL1() when `redis` is not given, else none}
   */
  l1?: L1Cache | false;
  /** Reply deadline of each Redis call, in ms. @default {redisCommandTimeoutMs()} */
  commandTimeoutMs?: number;
  /** After a timed-out call, skip Redis for this long, in ms. @default {1000} */
  breakerMs?: number;
  /**
   * Coordinate `getOrSet` misses across processes with the fleet fill lock (see
   * `fill_lock.ts`). Without it, a miss is coordinated within this process only.
   */
  fill?: FillPolicy;
  /**
   * Receives JSON lines: Redis failures (at most one per second per cache) and one
   * `cache_fill` line per `getOrSet` miss (its outcome, waited and compute ms).
   */
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
  /** The cache's name in reports (its prefix). */
  readonly name: string;
  readonly #keyPrefix: string;
  readonly #redis: () => RedisClient | undefined;
  readonly #minWriteTtlS: number;
  readonly #maxWriteTtlS: number;
  readonly #readRefreshTtlS: number;
  readonly #readRefreshSlackS: number;

  readonly #clearBatchSize: number;
  readonly #log: (line: string) => void;
  readonly #commandTimeoutMs: number | undefined;
  readonly #breakerMs: number;
  readonly #fill: FillPolicy | undefined;
  readonly #l1: () => L1Cache | undefined;
  readonly #compressAboveBytes: number;
  readonly #persistent: boolean;
  readonly #maxValueBytes: number;
  #lastErrorLogMs = 0;

  /**
   * @param prefix The cache's name: non-empty, without `:` (so no prefix can be a prefix of
   *   another's keys). Glob characters are allowed; `clearAll` escapes them.
   * @throws {TypeError} If `prefix` is empty or contains `:`.
   * @throws {RangeError} If the write TTL bounds are not `0 < min <= max`, or the fill
   *   policy breaks an invariant (see `checkFillPolicy`).
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
    this.name = prefix;
    this.#compressAboveBytes = options.compressAboveBytes ?? 4096;
    this.#persistent = options.persistent ?? false;
    if (this.#persistent && options.fill) {
      throw new TypeError(
        `Cannot create cache '${prefix}': a persistent cache takes no fill policy`,
      );
    }
    this.#maxValueBytes = options.maxValueBytes ?? 16 * 1024 * 1024;
    this.#keyPrefix = `cache:${prefix}:`;
    this.#redis = options.redis ?? getRedis;
    this.#minWriteTtlS = options.minWriteTtlS ?? 15 * DAY_S;
    this.#maxWriteTtlS = options.maxWriteTtlS ?? 30 * DAY_S;
    this.#readRefreshTtlS = options.readRefreshTtlS ?? 30 * DAY_S;
    this.#readRefreshSlackS = options.readRefreshSlackS ?? DAY_S;
    this.#clearBatchSize = options.clearBatchSize ?? 1000;
    this.#log = options.log ?? ((line) => console.error(line));
    this.#commandTimeoutMs = options.commandTimeoutMs;
    this.#breakerMs = options.breakerMs ?? 1000;
    this.#fill = options.fill && checkFillPolicy(prefix, options.fill);
    const l1 = options.l1;
    this.#l1 = l1 === false
      ? () => undefined
      : l1
      ? () => l1
      : options.redis
      ? () => undefined
      : getL1;
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

  protected override keyOf(uniquenessHash: string): string {
    return this.keyFor(uniquenessHash);
  }

  /** A write TTL in whole seconds, uniform in `[minWriteTtlS, maxWriteTtlS]`. */
  writeTtlS(): number {
    const span = this.#maxWriteTtlS - this.#minWriteTtlS;
    return this.#minWriteTtlS + Math.floor(Math.random() * (span + 1));
  }

  /** Stops in-flight writes and drops this cache's L1 entries (flush-all empties Redis). */
  flushLocal(): void {
    this.cancelPendingWrites();
    this.#l1()?.deletePrefix(this.#keyPrefix);
  }

  /**
   * The client when Redis is usable now for `key` (connected; the breaker of the node
   * serving `key` closed), else `undefined`.
   */
  #client(key: string): RedisClient | undefined {
    const client = this.#redis();
    return client && breakerClosed(shardOf(client, key)) ? client : undefined;
  }

  /** Runs one command for `key` with the reply deadline (a timeout opens its node's breaker). */
  #call<R>(client: RedisClient, call: Promise<R>, key: string): Promise<R> {
    return this.#guard(shardOf(client, key), call);
  }

  #guard<R>(shard: object, call: Promise<R>): Promise<R> {
    const timeoutMs = this.#commandTimeoutMs ?? redisCommandTimeoutMs();
    return withDeadline(shard, timeoutMs, this.#breakerMs, call);
  }

  protected async readEntry(uniquenessHash: string, wantedVersion: string): Promise<StoreRead<T>> {
    const key = this.keyFor(uniquenessHash);
    const client = this.#client(key);
    if (!client) return { kind: "unavailable" };
    const l1 = this.#l1();
    const local = l1?.get<{ versionHash: string; data: T }>(key);
    if (local && (wantedVersion === ANY_VERSION || local.versionHash === wantedVersion)) {
      return { kind: "hit", versionHash: local.versionHash, data: local.data, local: true };
    }
    const epoch = l1?.epoch ?? 0;
    let raw: string | null;
    try {
      raw = await this.#call(client, client.get(key), key) as string | null;
    } catch (error) {
      if (String((error as Error)?.message).startsWith("WRONGTYPE")) {
        this.#discard(client, key); // a foreign value under our key
        return { kind: "miss" };
      }
      this.#report("get", error);
      return { kind: "unavailable" };
    }
    if (raw === null) return { kind: "miss" };
    const entry = this.#decode(raw, uniquenessHash);
    if (!entry) {
      // Defect 3 of the plan: a value that fails to parse (or belongs under another key)
      // is a miss, and is removed.
      this.#discard(client, key);
      return { kind: "miss" };
    }
    l1?.set(key, entry, raw.length * 2, epoch);
    return { kind: "hit", versionHash: entry.versionHash, data: entry.data };
  }

  /**
   * The 30-day read refresh: `EXPIRE` on a hit, at most once a day per key and process
   * (remembered in a bounded LRU). A refresh is a write, so Redis invalidates the key in
   * every process's L1: refreshing on every hit would empty the L1s, and asking Redis for
   * the remaining TTL on every hit cost a third of a hit's throughput.
   */
  protected touchEntry(uniquenessHash: string): void {
    const key = this.keyFor(uniquenessHash);
    if (!this.#refreshDue(key)) return;
    // Not awaited: node-redis pipelines it with other traffic; the hit does not wait for it.
    const client = this.#client(key);
    if (!client) return;
    this.#call(client, client.expire(key, this.#readRefreshTtlS), key)
      .catch((error: unknown) => this.#report("expire", error));
  }

  /** Whether `key`'s TTL should be refreshed now (and records that it is). */
  #refreshDue(key: string): boolean {
    if (this.#persistent) return false;
    const refreshedAt = (lastRefresh ??= new LRUCache<string, number>({ max: 100_000 }));
    const last = refreshedAt.get(key);
    const now = Date.now();
    if (last !== undefined && now - last < this.#readRefreshSlackS * 1000) return false;
    refreshedAt.set(key, now);
    return true;
  }

  protected async writeEntry(
    uniquenessHash: string,
    versionHash: string,
    data: T,
  ): Promise<boolean> {
    const key = this.keyFor(uniquenessHash);
    const client = this.#client(key);
    if (!client) return false;
    const started = performance.now();
    const encoded = this.encode(versionHash, data);
    if (encoded === undefined) {
      this.#reportSet(key, "too_large", started);
      return true; // the cache works; this value is just not kept
    }
    try {
      await this.#call(
        client,
        this.#persistent
          ? client.set(key, encoded)
          : client.set(key, encoded, { expiration: { type: "EX", value: this.writeTtlS() } }),
        key,
      );
      this.#l1()?.delete(key);
      this.#reportSet(key, "stored", started, encoded.length);
      return true;
    } catch (error) {
      this.#report("set", error);
      return false;
    }
  }

  /**
   * The stored form of an entry: `{"versionHash", "data"}` as JSON, or above
   * `compressAboveBytes` that JSON deflated (raw, level 6) in base64 behind `z1:`.
   * `undefined` when the result is longer than `maxValueBytes`.
   */
  encode(versionHash: string, data: T): string | undefined {
    const json = JSON.stringify({ versionHash, data });
    const stored = json.length > this.#compressAboveBytes
      ? COMPRESSED + deflateRawSync(Buffer.from(json), { level: 6 }).toString("base64")
      : json;
    return stored.length > this.#maxValueBytes ? undefined : stored;
  }

  #reportSet(key: string, result: string, started: number, bytes?: number): void {
    if (!observed()) return;
    reportOperation({
      cache: this.prefix,
      op: "set",
      result,
      latencyMs: performance.now() - started,
      key,
      detail: bytes === undefined ? undefined : { bytes },
    });
  }

  protected async deleteEntry(uniquenessHash: string): Promise<void> {
    const key = this.keyFor(uniquenessHash);
    this.#l1()?.delete(key);
    const client = this.#client(key);
    if (!client) return;
    try {
      await this.#call(client, client.del(key), key);
    } catch (error) {
      this.#report("del", error);
    }
  }

  /**
   * SCAN with MATCH on this cache's own prefix (never KEYS), deleting with UNLINK. On a
   * cluster, every master is scanned, in parallel, and each batch is deleted with one
   * UNLINK per slot (a multi-key command must stay within one slot). A master that cannot
   * be reached is reported and skipped; the others are still cleared.
   */
  protected async deleteAll(): Promise<void> {
    this.#l1()?.deletePrefix(this.#keyPrefix);
    const client = this.#redis();
    if (!client) return;
    const match = escapeGlob(this.#keyPrefix) + "*";
    const cluster = isCluster(client);
    await Promise.all(
      mastersOf(client).map(async (master) => {
        if (!breakerClosed(master.shard)) {
          this.#report("clear_all", new Error(`Redis ${master.address} skipped (breaker open)`));
          return;
        }
        const call = <R>(command: Promise<R>) => this.#guard(master.shard, command);
        try {
          const node = await call(master.connect());
          const scan = { MATCH: match, COUNT: this.#clearBatchSize };
          for await (const keys of scanNode(node, scan, call)) {
            await Promise.all(
              (cluster ? groupBySlot(keys) : [keys]).map((group) => call(node.unlink(group))),
            );
          }
        } catch (error) {
          this.#report("clear_all", error);
        }
      }),
    );
  }

  /**
   * Batched read-through: the values of many keys, with one `MGET` for every key the L1
   * does not hold (so N keys cost one round trip, not N; on a cluster, one `MGET` per hash
   * slot, all sent at once, so one round trip per master), a version check per key, and
   * the misses filled through the normal path in parallel (per-key single flight, and the
   * fleet fill lock when the cache has a policy). Hits refresh their TTL in the
   * background (`PTTL`, then `EXPIRE` where due), without delaying the answer.
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
    const results: (CacheResult<T> | undefined)[] = new Array(requests.length);
    const hashes = requests.map((r) => this.hashesOf(r.params, r.version));
    const l1 = this.#l1();
    const fetch: number[] = [];
    for (const [index, { uniquenessHash, versionHash }] of hashes.entries()) {
      const local = l1?.get<{ versionHash: string; data: T }>(this.keyFor(uniquenessHash));
      if (local && local.versionHash === versionHash) {
        results[index] = { value: local.data, outcome: "hit", lookupMs: 0, computeMs: 0 };
      } else fetch.push(index);
    }
    const client = this.#redis();
    if (client && fetch.length > 0) {
      const keys = [...new Set(fetch.map((i) => this.keyFor(hashes[i].uniquenessHash)))];
      const epoch = l1?.epoch ?? 0;
      const byKey = new Map<string, string | null>();
      // One MGET (a cluster: one per slot, sent to each master's own connection, all
      // masters at once). A master that is down, skipped or no longer serves a slot
      // (MOVED) reads as not fetched: its keys fill through the normal path below.
      await Promise.all(
        byMaster(client, keys).map(async (master) => {
          if (!breakerClosed(master.shard)) return;
          try {
            const node = await this.#guard(master.shard, master.connect());
            await Promise.all(master.groups.map(async (group) => {
              const values = await this.#guard(master.shard, node.mGet(group));
              for (const [i, key] of group.entries()) byKey.set(key, values[i] as string | null);
            }));
          } catch (error) {
            this.#report("mget", error);
          }
        }),
      );
      const hitKeys: string[] = [];
      const lookupMs = performance.now() - started;
      for (const index of fetch) {
        const key = this.keyFor(hashes[index].uniquenessHash);
        const raw = byKey.get(key);
        const entry = raw ? this.#decode(raw, hashes[index].uniquenessHash) : undefined;
        if (!entry || entry.versionHash !== hashes[index].versionHash) continue;
        l1?.set(key, entry, raw!.length * 2, epoch);
        results[index] = { value: entry.data, outcome: "hit", lookupMs, computeMs: 0 };
        hitKeys.push(key);
      }
      if (hitKeys.length > 0 && !this.#persistent) this.#refreshTtls(client, hitKeys);
    }
    const filled = await Promise.all(
      requests.map((request, index) =>
        results[index] ??
          this.getOrSet(request.params, request.version, () => producer(request.params, index))
      ),
    );
    if (observed()) {
      for (const [index, result] of filled.entries()) {
        reportOperation({
          cache: this.prefix,
          op: "get_many",
          result: results[index] ? "hit" : result.outcome,
          latencyMs: performance.now() - started,
        });
      }
    }
    return filled;
  }

  /** The read refresh of batch hits (see `touchEntry`), in the background. */
  #refreshTtls(client: RedisClient, keys: string[]): void {
    for (const key of keys) {
      if (!this.#refreshDue(key)) continue;
      this.#call(client, client.expire(key, this.#readRefreshTtlS), key)
        .catch((error: unknown) => this.#report("expire", error));
    }
  }

  /**
   * Fills a `getOrSet` miss. With a fill policy and a reachable Redis, across the fleet:
   *
   * 1. `SET NX PX` on the lock: the winner is the leader. It re-reads the data key
   *    (another leader may have just written it), runs the producer while extending its
   *    lease, writes with the fenced script, and releases with compare-and-delete.
   * 2. The others are followers: they poll the data key (with the lock's value, in one
   *    round trip) with jittered backoff from `pollMinMs` to `pollMaxMs`. A value of the
   *    wanted version is a `follower_hit`. A leader that failed leaves a marker, and its
   *    followers fail with a {@linkcode CacheFillError}; a lock that is free without a
   *    value is taken over at once. A leader that stops extending its lease for 2.5
   *    heartbeats is presumed dead and is taken over (exactly one follower wins, the
   *    others follow it with a fresh wait). After `waitMs` without a value, a follower
   *    whose leader still extends its lease computes itself without writing
   *    (`follower_timeout`).
   * 3. Any Redis error on the way degrades to this process's own fill (`lock_error`).
   */
  protected override async fillMiss(miss: MissContext<T>): Promise<FillResult<T>> {
    const policy = this.#fill;
    const dataKey = this.keyFor(miss.uniquenessHash);
    const client = policy && !miss.unavailable ? this.#client(dataKey) : undefined;
    if (!policy || !client) {
      return await this.#localFill(miss, policy ? "lock_error" : "no_policy", performance.now());
    }
    const started = performance.now();
    let lock: FillLock;
    try {
      // The lock key shares the data key's slot, so the lock, its scripts and the data all
      // live on (and share the breaker of) one master.
      lock = new FillLock(
        client,
        (command) => this.#call(client, command, dataKey),
        dataKey,
        policy.leaseMs,
      );
    } catch {
      return await this.#localFill(miss, "lock_error", started); // no same-slot lock key
    }
    try {
      if (await lock.tryAcquire()) return await this.#lead(lock, policy, miss, "leader", started);
    } catch {
      // The SET NX may still run once Redis answers again (a paused Redis queues it), and
      // would then hold the lock with nobody behind it: queue a token-checked release
      // right behind it.
      lock.release().catch(() => {});
      return await this.#localFill(miss, "lock_error", started);
    }
    // The leader we follow: its token, when our wait for it ends, and when it last showed
    // it is alive (first seen, or its lease grew: it extends every `heartbeatMs`).
    let expected: string | undefined;
    let deadline = started + policy.waitMs;
    let lastLeaseLeftMs = Infinity;
    let lastAliveAt = -Infinity;
    const heartbeatMs = heartbeatIntervalMs(policy);
    for (let attempt = 0;; attempt++) {
      await sleep(pollDelayMs(policy, attempt));
      let poll;
      try {
        poll = await lock.poll();
      } catch {
        return await this.#localFill(miss, "lock_error", started);
      }
      const entry = poll.data === null ? undefined : this.#decode(poll.data, miss.uniquenessHash);
      if (entry && entry.versionHash === miss.versionHash) {
        miss.publish(entry.data);
        this.#logFill(miss, "follower_hit", started, 0);
        return { value: entry.data, outcome: "hit" };
      }
      const failed = parseFailedMarker(poll.lock);
      if (failed && failed.token === expected) {
        this.#logFill(miss, "follower_failed", started, 0);
        throw new CacheFillError(this.prefix, failed.message);
      }
      if (poll.lock === null || failed) {
        // Nobody is filling (the leader finished without a value, or failed before we
        // followed it): take over at once; if another follower beat us, follow it.
        try {
          if (await lock.takeOver(poll.lock)) {
            return await this.#lead(lock, policy, miss, "leader", started);
          }
        } catch {
          return await this.#localFill(miss, "lock_error", started);
        }
        continue;
      }
      const now = performance.now();
      if (poll.lock !== expected) {
        if (expected !== undefined) deadline = now + policy.waitMs; // a new leader
        expected = poll.lock;
        lastAliveAt = now;
      } else if (poll.leaseLeftMs > lastLeaseLeftMs) {
        lastAliveAt = now;
      }
      lastLeaseLeftMs = poll.leaseLeftMs;
      const alive = now - lastAliveAt < 2.5 * heartbeatMs;
      if (alive && now < deadline) continue;
      if (alive) {
        // The leader is alive but slower than `waitMs`: compute ourselves, and leave the
        // write to it (ours would be refused by the fence anyway).
        return await this.#timeoutFill(miss, started);
      }
      // The leader stopped extending its lease (dead, stalled, or its lock orphaned): at
      // once, not at `waitMs`, exactly one follower takes over from it; the others follow
      // the new leader with a fresh wait.
      try {
        if (await lock.takeOver(expected)) {
          return await this.#lead(lock, policy, miss, "leader", started, { tookOver: true });
        }
      } catch {
        return await this.#localFill(miss, "lock_error", started);
      }
    }
  }

  /** A follower whose live leader is slower than `waitMs`: produce, publish, no write. */
  async #timeoutFill(miss: MissContext<T>, started: number): Promise<FillResult<T>> {
    const computeStarted = performance.now();
    const value = await miss.produce();
    miss.publish(value);
    this.#logFill(miss, "follower_timeout", started, performance.now() - computeStarted);
    return { value, outcome: "miss" };
  }

  /** The leader's part: recheck, produce under a kept-alive lease, fenced write, release. */
  async #lead(
    lock: FillLock,
    policy: FillPolicy,
    miss: MissContext<T>,
    outcome: "leader",
    started: number,
    extra: Record<string, unknown> = {},
  ): Promise<FillResult<T>> {
    let raw: string | null;
    try {
      raw = await lock.readData();
    } catch {
      lock.release().catch(() => {});
      return await this.#localFill(miss, "lock_error", started);
    }
    const entry = raw === null ? undefined : this.#decode(raw, miss.uniquenessHash);
    if (entry && entry.versionHash === miss.versionHash) {
      lock.release().catch(() => {});
      miss.publish(entry.data);
      this.#logFill(miss, "recheck_hit", started, 0);
      return { value: entry.data, outcome: "hit" };
    }
    const waitedMs = performance.now() - started;
    let leaseLost = false;
    const heartbeat = setInterval(() => {
      lock.extend().then((held) => leaseLost ||= !held, () => {});
    }, heartbeatIntervalMs(policy));
    const computeStarted = performance.now();
    let value: T;
    try {
      value = await miss.produce();
    } catch (error) {
      clearInterval(heartbeat);
      const message = `${(error as Error)?.name ?? "Error"}: ${(error as Error)?.message ?? error}`;
      await lock.fail(message, Math.max(3 * policy.pollMaxMs, 100)).catch(() => {});
      this.#logFill(miss, outcome, started, performance.now() - computeStarted, {
        ...extra,
        failed: true,
      });
      throw error;
    }
    clearInterval(heartbeat);
    const computeMs = performance.now() - computeStarted;
    miss.publish(value);
    let written = false;
    if (miss.storable(value)) {
      const writeStarted = performance.now();
      const stored = this.encode(miss.versionHash, value);
      let refused = false; // Redis refused the write (MISCONF, OOM, timeout): not a lost lease
      written = stored === undefined ||
        await lock.writeFenced(stored, this.writeTtlS()).catch(() => (refused = true, false));
      this.#reportSet(
        lock.dataKey,
        stored === undefined ? "too_large" : written ? "stored" : refused ? "error" : "fenced",
        writeStarted,
        stored?.length,
      );
      this.#l1()?.delete(lock.dataKey);
      leaseLost ||= !written && !refused;
    }
    await lock.release().catch(() => {});
    this.#logFill(
      miss,
      outcome,
      started,
      computeMs,
      { ...extra, ...(leaseLost ? { leaseLost: true } : {}) },
      waitedMs,
    );
    return { value, outcome: "miss" };
  }

  /** This process fills alone (no policy, or the lock path failed). */
  async #localFill(
    miss: MissContext<T>,
    outcome: "no_policy" | "lock_error",
    started: number,
  ): Promise<FillResult<T>> {
    const computeStarted = performance.now();
    const result = await super.fillMiss(miss);
    this.#logFill(miss, outcome, started, performance.now() - computeStarted);
    return result;
  }

  /** One JSON line per `getOrSet` miss (the key itself only as a short hash). */
  #logFill(
    miss: MissContext<T>,
    outcome: string,
    started: number,
    computeMs: number,
    extra: Record<string, unknown> = {},
    waitedMs = performance.now() - started - computeMs,
  ): void {
    if (observed()) {
      reportOperation({
        cache: this.prefix,
        op: "fill",
        result: outcome,
        latencyMs: performance.now() - started,
        key: this.keyFor(miss.uniquenessHash),
        detail: { waitedMs, computeMs, ...extra },
      });
    }
    this.#log(JSON.stringify({
      event: "cache_fill",
      cache: this.prefix,
      keyHash: createHash("sha256").update(this.keyFor(miss.uniquenessHash)).digest("hex").slice(
        0,
        12,
      ),
      outcome,
      waitedMs: round1(waitedMs),
      computeMs: round1(computeMs),
      ...extra,
    }));
  }

  /** A stored entry, if it is one of ours and belongs under `uniquenessHash`. */
  #decode(raw: string, uniquenessHash: string): { versionHash: string; data: T } | undefined {
    const entry = decodeEntry<T>(raw);
    return entry && this.belongsTo(uniquenessHash, entry) ? entry : undefined;
  }

  #discard(client: RedisClient, key: string): void {
    this.#call(client, client.del(key), key).catch((error: unknown) => this.#report("del", error));
  }

  #report(op: string, error: unknown): void {
    if (observed()) reportOperation({ cache: this.prefix, op, result: "error", latencyMs: 0 });
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

/**
 * How often a leader extends its lease: three times per `min(leaseMs, waitMs)`, and at
 * least every second, so its followers see it extend well within their wait, and a leader
 * that stops extending (dead, stalled, or an orphaned lock) is replaced within about 2.5 s.
 */
function heartbeatIntervalMs(policy: FillPolicy): number {
  return Math.min(1000, Math.max(10, Math.floor(Math.min(policy.leaseMs, policy.waitMs) / 3)));
}

/** The pause before poll `attempt` (0-based): full jitter over a doubling backoff. */
function pollDelayMs(policy: FillPolicy, attempt: number): number {
  const cap = Math.min(policy.pollMaxMs, policy.pollMinMs * 2 ** attempt);
  return policy.pollMinMs + Math.random() * (cap - policy.pollMinMs);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function round1(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** Marks a compressed entry (deflate-raw, base64). */
const COMPRESSED = "z1:";

/** Parses a stored entry; `undefined` for anything that is not one of ours. */
function decodeEntry<T>(raw: string): { versionHash: string; data: T } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(
      raw.startsWith(COMPRESSED)
        ? inflateRawSync(Buffer.from(raw.slice(COMPRESSED.length), "base64")).toString()
        : raw,
    );
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
