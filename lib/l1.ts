/**
 * The L1: an in-process layer in front of Redis for hot keys, bounded by bytes and
 * entries (npm `lru-cache`), kept coherent with Redis by server-assisted client-side
 * caching: the connection runs `CLIENT TRACKING ON` (RESP3), so Redis pushes an
 * `invalidate` message for every key this process read once anybody changes it (any
 * process, `redis-cli`, expiry, eviction; `null` for FLUSHDB/FLUSHALL), and the L1 drops
 * it (the Redis docs: "Client-side caching in Redis", default tracking mode).
 *
 * Staleness bound: an entry is dropped when its invalidation arrives (one network hop
 * after the change), when the connection drops (invalidations may have been missed, so
 * the whole L1 is cleared on reconnect), or at the latest after `ttlMs`.
 *
 * On a Redis Cluster, tracking is per connection, so the L1 follows every node connection
 * of the cluster client ({@linkcode L1Cache.bindCluster}), including connections created
 * after a topology change (a promoted replica). Any node connection failing or (re)connecting
 * clears the whole L1: the keys read through a connection that dropped are tracked by
 * nobody any more, and after a failover their slots are served by a node that never saw
 * our reads.
 *
 * @module
 */
import { LRUCache } from "lru-cache";

/** Options of {@linkcode L1Cache}. */
export interface L1Options {
  /**
   * Most bytes held: the sum of the sizes given to `set`; a cache entry is charged 2 bytes per
   * UTF-16 code unit of its JSON, inflated when stored compressed (the stored length would
   * undercount a compressed entry's objects several times). @default {64 MiB}
   */
  maxBytes?: number;
  /** Most entries held. @default {10_000} */
  maxEntries?: number;
  /** Longest an entry is served without a new Redis read, in ms. @default {60_000} */
  ttlMs?: number;
}

/** Hit and miss counts of the L1 (for metrics and benchmarks). */
export interface L1Stats {
  /** Reads answered from the L1. */
  hits: number;
  /** Reads the L1 could not answer. */
  misses: number;
  /** Invalidation pushes applied (a key, a list of keys, or a flush each). */
  invalidations: number;
  /** Entries held now. */
  entries: number;
  /**
   * Approximate size of the held entries, in bytes: 2 per UTF-16 code unit of each entry's
   * JSON (inflated when it is stored compressed).
   */
  bytes: number;
}

/** The events the L1 listens to on a node-redis client created with `emitInvalidate`. */
export interface InvalidatingClient {
  /** Redis's invalidation push: a key, a list of keys, or `null` for a flush. */
  on(event: "invalidate", listener: (key: unknown) => void): unknown;
  /** The connection became ready again, or failed. */
  on(event: "ready" | "error", listener: (...args: unknown[]) => void): unknown;
}

/** A node of node-redis's cluster client, as far as the L1 needs it. */
export interface ClusterNodeLike {
  /** The node's connection, once node-redis created it. */
  client?: InvalidatingClient;
}

/** The parts of node-redis's cluster client the L1 listens to. */
export interface InvalidatingCluster {
  /** The cluster's master node connections. */
  readonly masters: readonly ClusterNodeLike[];
  /** The cluster's replica node connections. */
  readonly replicas: readonly ClusterNodeLike[];
  /** A node connection became ready or failed, or the topology was read. */
  on(
    event: "node-ready" | "node-error" | "connect",
    listener: (...args: unknown[]) => void,
  ): unknown;
}

/** An in-process LRU of decoded Redis values, keyed by Redis key. */
export class L1Cache {
  readonly #entries: LRUCache<string, { value: unknown }>;
  #epoch = 0;
  #hits = 0;
  #misses = 0;
  #invalidations = 0;

  /**
   * An empty L1 bounded by entries, bytes and TTL.
   *
   * @throws {RangeError} If a bound is not a positive number.
   */
  constructor(options: L1Options = {}) {
    const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    const maxEntries = options.maxEntries ?? 10_000;
    const ttlMs = options.ttlMs ?? 60_000;
    for (const [name, value] of Object.entries({ maxBytes, maxEntries, ttlMs })) {
      if (!(value > 0)) {
        throw new RangeError(`Cannot create L1: '${name}' (${value}) must be positive`);
      }
    }
    // `ttlResolution: 0`: the clock is read on each check. lru-cache's default (1 ms) caches
    // it and arms a `setTimeout` to forget it every millisecond it is read, which under load
    // cost a hit more than the clock reads it saves (Node-compatible timers are not cheap).
    this.#entries = new LRUCache({
      max: maxEntries,
      maxSize: maxBytes,
      ttl: ttlMs,
      ttlResolution: 0,
    });
  }

  /**
   * A counter bumped by every invalidation. A reader notes it before its Redis read and
   * stores the result only if it has not moved (the invalidation of a value can be
   * processed before the read that returned it resumes).
   */
  get epoch(): number {
    return this.#epoch;
  }

  /** The decoded value of `key`, or `undefined`. */
  get<V>(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry) this.#hits++;
    else this.#misses++;
    return entry?.value as V | undefined;
  }

  /**
   * Stores `value` for `key` if no invalidation happened since `epochBefore`.
   *
   * @param bytes The entry's size (for the byte bound); values above the bound are skipped.
   */
  set(key: string, value: unknown, bytes: number, epochBefore: number): void {
    if (epochBefore !== this.#epoch) return;
    try {
      this.#entries.set(key, { value }, { size: Math.max(1, bytes) });
    } catch {
      // larger than maxBytes: not kept
    }
  }

  /** Drops one key (this process changed it). */
  delete(key: string): void {
    this.#epoch++;
    this.#entries.delete(key);
  }

  /** Drops every key starting with `prefix`. */
  deletePrefix(prefix: string): void {
    this.#epoch++;
    for (const key of this.#entries.keys()) if (key.startsWith(prefix)) this.#entries.delete(key);
  }

  /** Drops everything. */
  clear(): void {
    this.#epoch++;
    this.#entries.clear();
  }

  /** Applies an invalidation push: a key, a list of keys, or `null` (flush). */
  invalidate(key: unknown): void {
    this.#invalidations++;
    if (key === null || key === undefined) return this.clear();
    for (const one of Array.isArray(key) ? key : [key]) this.delete(String(one));
  }

  /**
   * Follows a client's invalidation pushes, and clears everything when the connection
   * comes back (invalidations sent while it was down are lost).
   */
  bind(client: InvalidatingClient): void {
    client.on("invalidate", (key) => this.invalidate(key));
    let lost = false;
    client.on("error", () => (lost = true));
    client.on("ready", () => {
      if (lost) this.clear();
      lost = false;
    });
  }

  /**
   * Follows the invalidation pushes of every node connection of a cluster client created
   * with `defaults: { emitInvalidate: true }`: those open now and those opened later (after
   * a topology change). Clears everything whenever a node connection fails or becomes
   * ready (see the module docs).
   */
  bindCluster(cluster: InvalidatingCluster): void {
    const bound = new WeakSet<object>();
    const attach = () => {
      for (const node of [...cluster.masters, ...cluster.replicas]) {
        const client = node.client;
        if (!client || bound.has(client)) continue;
        bound.add(client);
        client.on("invalidate", (key) => this.invalidate(key));
      }
    };
    cluster.on("connect", attach);
    cluster.on("node-ready", () => {
      attach();
      this.clear();
    });
    cluster.on("node-error", () => this.clear());
  }

  /** Counts since creation, and the current size. */
  stats(): L1Stats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      invalidations: this.#invalidations,
      entries: this.#entries.size,
      bytes: this.#entries.calculatedSize ?? 0,
    };
  }
}
