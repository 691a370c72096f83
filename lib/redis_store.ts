/**
 * `RedisStore`: the one owner of an instance's Redis in a process. The entry file builds it
 * once from the configuration (`RedisStore.connect`) and passes it down; every cache, the
 * memo, the event bus, the seen sets and the flush take it. It owns:
 *
 * - the client (one node or a cluster) and its L1;
 * - the guarded call (`guard`): the per-node circuit breakers, the reply deadlines and the
 *   report of a failure (BentoCache's `RemoteCache.#tryCacheOperation` is the model);
 * - per-master iteration (`masters`: each master with its breaker object and its own
 *   connection, for a `SCAN`, `FLUSHDB` or `INFO` per node) and `status()`;
 * - the observers of every cache built on it, the live caches a flush stops, the
 *   TTL-refresh record of its `TimCacheC`s, and the worker that compresses their large
 *   entries off the event loop (`deflate`).
 *
 * Nothing of this is module-level: two stores in one process (two apps on two Redis
 * servers) share nothing.
 *
 * @module
 */
import { GuardState, RedisGuard, type RedisGuardOptions } from "./_guard.ts";
import { LiveCaches } from "./_registry.ts";
import { TtlRefreshRecord } from "./_ttl_refresh.ts";
import { OffThreadDeflate } from "./off_thread_deflate.ts";
import { type MasterNode, mastersOf } from "./_cluster.ts";
import { CacheObservers } from "./observe.ts";
import type { L1Cache } from "./l1.ts";
import {
  connectRedis,
  redactRedisUrl,
  type RedisClient,
  type RedisConnection,
  type RedisOptions,
  type RedisTarget,
} from "./redis.ts";

/**
 * `up`: the client is connected and ready; `down`: Redis is configured but not answering
 * (the caches bypass it and it reconnects in the background); `disabled`: no Redis.
 */
export type RedisStatus = "up" | "down" | "disabled";

/** Options of {@linkcode RedisStore.over}. */
export interface RedisStoreOverOptions {
  /** The L1 kept coherent with the client. @default {the connection's, else none} */
  l1?: L1Cache;
  /** Reply deadline of each guarded call, in ms. @default {1000} */
  commandTimeoutMs?: number;
}

/**
 * The instance's Redis, owned in one place.
 *
 * @example Build once in the entry file, pass down
 * ```ts
 * const store = await RedisStore.connect(Deno.env.get("REDIS_URL"), { commandTimeoutMs: 1000 });
 * const cache = new TimCacheC("po_items", funcs, { store });
 * // …
 * await store.close();
 * ```
 */
export class RedisStore {
  /** The L1 in front of Redis (client-side caching), when on. */
  readonly l1: L1Cache | undefined;
  /** Reply deadline of a guarded call unless its owner sets its own, in ms. */
  readonly commandTimeoutMs: number;
  /** The observers of every cache built on this store. */
  readonly observers: CacheObservers = new CacheObservers();
  /** The caches built on this store, for a flush (see `flushAllServerCaches`). */
  readonly caches: LiveCaches = new LiveCaches();
  /** When each key's TTL was last refreshed by this process (`TimCacheC`'s read refresh). */
  readonly ttlRefresh: TtlRefreshRecord = new TtlRefreshRecord();
  /**
   * Compresses large entries in a worker (started on first use or by `deflate.start()`,
   * stopped by `close()`).
   */
  readonly deflate: OffThreadDeflate = new OffThreadDeflate();
  /** The target without its password (for logs), or `undefined` when disabled or given a client. */
  readonly where: string | undefined;
  readonly #source: () => RedisClient | undefined;
  readonly #configured: boolean;
  readonly #close: () => Promise<void>;
  readonly #guards = new GuardState();

  private constructor(
    source: () => RedisClient | undefined,
    options: {
      configured: boolean;
      l1?: L1Cache;
      commandTimeoutMs?: number;
      where?: string;
      close?: () => Promise<void>;
    },
  ) {
    this.#source = source;
    this.#configured = options.configured;
    this.l1 = options.l1;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 1000;
    this.where = options.where;
    this.#close = options.close ?? (() => Promise.resolve());
    if (!(this.commandTimeoutMs > 0)) {
      throw new RangeError(
        `Cannot create Redis store: 'commandTimeoutMs' (${this.commandTimeoutMs}) must be positive`,
      );
    }
  }

  /**
   * Connects the instance's Redis (a node or a cluster) and owns the connection.
   *
   * Resolves within about `connectTimeoutMs` whether or not Redis answered: when it did not,
   * the client keeps reconnecting in the background and every cache bypasses Redis until
   * then. With no target (`undefined`, `""`, or a cluster without nodes) caching is
   * disabled: one `redis_disabled` line is logged and a disabled store is returned.
   *
   * @param target A `redis:`/`rediss:`/`unix:` URL or `{ clusterNodes }`; the entry file
   *   reads it from its configuration (`REDIS_URL`, `REDIS_CLUSTER_NODES`).
   * @throws {TypeError} If a URL is not a Redis URL.
   */
  static async connect(
    target: RedisTarget | undefined,
    options: RedisOptions = {},
  ): Promise<RedisStore> {
    const log = options.log ?? ((line: string) => console.error(line));
    if (!target || (typeof target !== "string" && target.clusterNodes.length === 0)) {
      log(JSON.stringify({ event: "redis_disabled", reason: "no Redis URL is configured" }));
      return RedisStore.disabled();
    }
    const connection = await connectRedis(target, { ...options, log });
    return new RedisStore(() => connection.ready(), {
      configured: true,
      l1: connection.l1,
      commandTimeoutMs: options.commandTimeoutMs,
      where: redactRedisUrl(target),
      close: () => connection.close(),
    });
  }

  /** A store without Redis: every cache built on it computes (`BYPASS`), `status()` is `disabled`. */
  static disabled(): RedisStore {
    return new RedisStore(() => undefined, { configured: false });
  }

  /**
   * A store over a client the caller owns (tests, benchmarks, a second connection):
   * `close()` does not close it.
   *
   * @param source A connection (its client when ready, and its L1), a client, or a function
   *   returning the client now (`undefined`: Redis unavailable).
   */
  static over(
    source: RedisConnection | RedisClient | (() => RedisClient | undefined),
    options: RedisStoreOverOptions = {},
  ): RedisStore {
    if (typeof source === "function") {
      return new RedisStore(source, { configured: true, ...options });
    }
    if ("ready" in source && "where" in source) {
      const connection = source as RedisConnection;
      return new RedisStore(() => connection.ready(), {
        configured: true,
        l1: connection.l1,
        where: connection.where,
        ...options,
      });
    }
    const client = source as RedisClient;
    return new RedisStore(() => client, { configured: true, ...options });
  }

  /**
   * The client when it is connected and ready, else `undefined`: callers treat that as "no
   * cache right now" (a read is a miss, a write is skipped). A cluster is ready once its
   * topology is known; a master that is down then fails only its own slots' commands.
   */
  get client(): RedisClient | undefined {
    return this.#source();
  }

  /** Whether Redis is configured (even if it is down now). */
  get configured(): boolean {
    return this.#configured;
  }

  /** Whether Redis answers now (see {@linkcode RedisStatus}). */
  status(): RedisStatus {
    if (this.#source()) return "up";
    return this.#configured ? "down" : "disabled";
  }

  /**
   * The guarded call for one owner (a cache, the memo, the bus, a seen set, the flush):
   * its calls share this store's breakers and deadline ticker, with the owner's own reply
   * deadline (default {@linkcode RedisStore.commandTimeoutMs}), breaker time and report.
   *
   * @param report Receives each failed call (`op` names it); a skipped call is not reported.
   */
  guard(
    options: RedisGuardOptions = {},
    report?: (op: string, error: unknown) => void,
  ): RedisGuard {
    return new RedisGuard(
      this.#source,
      this.#guards,
      {
        commandTimeoutMs: options.commandTimeoutMs ?? this.commandTimeoutMs,
        breakerMs: options.breakerMs,
      },
      report,
    );
  }

  /**
   * Every master of the cluster as the client last saw the topology (or the one node), each
   * with its breaker object and a connection to it alone; none when Redis is unavailable.
   */
  masters(): MasterNode[] {
    const client = this.#source();
    return client ? mastersOf(client) : [];
  }

  /**
   * Stops the deflate worker and closes the connection this store opened (not one given to
   * {@linkcode RedisStore.over}). Safe to call twice.
   */
  close(): Promise<void> {
    this.deflate.close();
    return this.#close();
  }
}
