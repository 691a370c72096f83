/**
 * A Redis connection: one node-redis client (a single node, or a Redis Cluster through
 * node-redis's cluster client), opened by `RedisStore.connect` and configured to fail fast so that a
 * missing or slow Redis makes the server slower, never stuck.
 *
 * - connect timeout {@linkcode RedisOptions.connectTimeoutMs}, command timeout
 *   {@linkcode RedisOptions.commandTimeoutMs};
 * - no offline queue: while disconnected, commands fail at once instead of piling up
 *   (node-redis `disableOfflineQueue`, on every node connection of a cluster);
 * - endless reconnects with capped backoff in the background, so a Redis that goes away
 *   and comes back is used again without restarting the server; on a cluster, a node
 *   connection that keeps failing makes the client read the topology again
 *   ({@linkcode RedisOptions.topologyRefreshMs}), which is how it finds a promoted replica.
 *
 * @module
 */
import { jitteredBackoffMs } from "./backoff.ts";
import { createClient, createCluster, type RedisClientType, type RedisClusterType } from "redis";
import { L1Cache, type L1Options } from "./l1.ts";

/** node-redis's client of one Redis node. */
export type RedisNodeClient = RedisClientType;
/** node-redis's Redis Cluster client. */
export type RedisClusterClient = RedisClusterType;
/**
 * The client type used across the cache library: one node or a cluster. Keyed commands
 * work the same on both; the few that differ go through `_cluster.ts`.
 */
export type RedisClient = RedisNodeClient | RedisClusterClient;

/**
 * Where Redis is: a `redis://[[user]:password@]host:port[/db]` URL or a Unix socket
 * `unix://[[user]:password@]/path/to/redis.sock[?db=N]` (one node), or the seed
 * nodes of a Redis Cluster (any few of its nodes; the client discovers the others). The
 * first seed URL that carries credentials or `rediss:` sets them for every node.
 */
export type RedisTarget = string | { clusterNodes: readonly string[] };

/** Options of {@linkcode connectRedis} (and `RedisStore.connect`). */
export interface RedisOptions {
  /** Give up waiting for the first connection after this long; reconnects continue. @default {2000} */
  connectTimeoutMs?: number;
  /** A cache call with no reply after this long counts as unavailable. @default {1000} */
  commandTimeoutMs?: number;
  /** Upper bound of the reconnect backoff. @default {2000} */
  maxReconnectDelayMs?: number;
  /**
   * Cluster only: how long a node connection keeps failing before the client reads the
   * cluster topology again (and again every this long while it fails), in ms. A master that
   * died is replaced by its promoted replica at the first read after the promotion.
   * @default {500}
   */
  topologyRefreshMs?: number;
  /** Where state changes are reported (one line each). @default {console.error} */
  log?: (line: string) => void;
  /**
   * The process's L1 in front of Redis (`lib/l1.ts`), kept coherent by RESP3 client
   * tracking on this connection (on every node connection of a cluster); `false` turns it
   * off. @default {L1Cache defaults}
   */
  l1?: L1Options | false;
}

/** An open connection: the client, its L1, and how to close both. */
export interface RedisConnection {
  /** The client (possibly not yet ready). */
  readonly client: RedisClient;
  /** The L1 kept coherent with this connection, unless turned off. */
  readonly l1: L1Cache | undefined;
  /** Whether this is a Redis Cluster. */
  readonly cluster: boolean;
  /** The target without its password, for logs. */
  readonly where: string;
  /** The client when it is ready (a cluster: its topology is known), else `undefined`. */
  ready(): RedisClient | undefined;
  /** Closes the client (pending commands are dropped). Safe to call twice. */
  close(): Promise<void>;
}

/**
 * A Redis URL, or a cluster's seed URLs as `cluster <url>,<url>…`, without passwords, so
 * it can be logged.
 */
export function redactRedisUrl(target: RedisTarget): string {
  if (typeof target !== "string") {
    return `cluster ${target.clusterNodes.map(redactRedisUrl).join(",")}`;
  }
  const unix = parseUnixUrl(target);
  if (unix) return `unix://${unix.password ? ":***@" : ""}${unix.path}`;
  try {
    const parsed = new URL(target);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "<unparseable REDIS_URL>";
  }
}

/**
 * Opens a connection to a Redis node or cluster (`RedisStore.connect` opens one and owns it;
 * `RedisStore.over(connection)` builds a store over one the caller owns).
 *
 * Resolves within about `connectTimeoutMs` whether or not Redis answered: when it did not,
 * the client keeps connecting in the background (a cluster's first topology read is
 * retried every `maxReconnectDelayMs`).
 *
 * @param target A `redis:`/`rediss:` URL, or `{ clusterNodes }` seed URLs.
 * @returns The connection (its client possibly not yet ready).
 * @throws {TypeError} If a URL is not a `redis:` or `rediss:` URL, or no seed is given.
 * @example Connect to a cluster
 * ```ts
 * const redis = await connectRedis({ clusterNodes: ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"] });
 * const cache = new TimCacheC("po_items", funcs, { store: RedisStore.over(redis) });
 * await redis.close();
 * ```
 */
export async function connectRedis(
  target: RedisTarget,
  options: RedisOptions = {},
): Promise<RedisConnection> {
  const urls = typeof target === "string" ? [target] : [...target.clusterNodes];
  if (urls.length === 0) {
    throw new TypeError("Cannot connect to a Redis Cluster: 'clusterNodes' is empty");
  }
  for (const url of urls) {
    if (typeof target === "string" && parseUnixUrl(url)) continue;
    if (!/^rediss?:\/\/[^\s,]+$/.test(url)) {
      throw new TypeError(
        `Cannot connect to Redis: '${redactRedisUrl(url)}' is not a redis:// URL`,
      );
    }
  }
  const log = options.log ?? ((line: string) => console.error(line));
  const timeoutMs = options.commandTimeoutMs ?? 1000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 2000;
  const maxReconnectDelayMs = options.maxReconnectDelayMs ?? 2000;
  const l1 = options.l1 === false ? undefined : new L1Cache(options.l1);
  const where = redactRedisUrl(target);
  const socket = {
    connectTimeout: connectTimeoutMs,
    // Equal jitter: the apps of a host that lost their Redis do not reconnect in step.
    reconnectStrategy: (retries: number) =>
      Math.round(jitteredBackoffMs(retries, {
        minMs: Math.min(50, maxReconnectDelayMs),
        maxMs: maxReconnectDelayMs,
        jitter: "equal",
      })),
  };
  const states = new Map<string, boolean>();
  const report = (node: string, up: boolean, error?: unknown) => {
    // node-redis emits `error` on every failed attempt; report transitions only.
    if (states.get(node) === up) return;
    states.set(node, up);
    const at = typeof target === "string" ? {} : { node };
    log(JSON.stringify(
      up ? { event: "redis_ready", url: where, ...at } : {
        event: "redis_unavailable",
        url: where,
        ...at,
        error: String((error as Error)?.message ?? error),
        effect: typeof target === "string"
          ? "cache bypassed until Redis answers again"
          : "this node's slots bypassed until it or its replica answers",
      },
    ));
  };

  let client: RedisClient;
  let start: () => Promise<boolean>;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  if (typeof target === "string") {
    const unix = parseUnixUrl(target);
    const node = createClient({
      // A Unix socket as options (node-redis' own unix: parsing goes through WHATWG URL in
      // places, which refuses `unix://:pw@/path`); a TCP URL as is.
      ...(unix
        ? {
          ...(unix.username ? { username: unix.username } : {}),
          ...(unix.password ? { password: unix.password } : {}),
          ...(unix.database !== undefined ? { database: unix.database } : {}),
        }
        : { url: target }),
      RESP: 3,
      // CLIENT TRACKING ON: Redis pushes an invalidation for every key we read once it changes.
      emitInvalidate: l1 !== undefined,
      disableOfflineQueue: true,
      // Bounds the wait before a command is written; the reply deadline is in _guard.ts.
      commandOptions: { timeout: timeoutMs },
      socket: unix ? { ...socket, path: unix.path } : socket,
    }) as unknown as RedisNodeClient;
    l1?.bind(node as unknown as Parameters<L1Cache["bind"]>[0]);
    node.on("ready", () => report("node", true));
    node.on("error", (error: Error) => report("node", false, error));
    client = node;
    start = () => node.connect().then(() => true, () => false);
  } else {
    const seed = urls.map((url) => new URL(url)).find((u) => u.password || u.username) ??
      new URL(urls[0]);
    const cluster = createCluster({
      rootNodes: urls.map((url) => ({ url })),
      RESP: 3,
      // Every node connection (discovered, or created after a topology change) gets these.
      defaults: {
        username: seed.username ? decodeURIComponent(seed.username) : undefined,
        password: seed.password ? decodeURIComponent(seed.password) : undefined,
        emitInvalidate: l1 !== undefined,
        disableOfflineQueue: true,
        socket: { ...socket, ...(urls.some((u) => u.startsWith("rediss:")) ? { tls: true } : {}) },
      },
      commandOptions: { timeout: timeoutMs },
      topologyRefreshOnReconnectionAttemptStrategy: options.topologyRefreshMs ?? 500,
    }) as unknown as RedisClusterClient;
    if (l1) l1.bindCluster(cluster as unknown as Parameters<L1Cache["bindCluster"]>[0]);
    const address = (info: { host?: string; port?: number } | undefined) =>
      `${info?.host}:${info?.port}`;
    cluster.on("node-ready", (info: { host: string; port: number }) => report(address(info), true));
    cluster.on(
      "node-error",
      (error: Error, info: { host: string; port: number }) => report(address(info), false, error),
    );
    cluster.on("error", (error: Error) => report("topology", false, error));
    // The topology is reported when it could not be read, and when it can again.
    cluster.on("connect", () => states.has("topology") && report("topology", true));
    client = cluster;
    // A cluster's first topology read is not retried by node-redis: retry it here.
    start = async () => {
      while (!closed) {
        try {
          await cluster.connect();
          return true;
        } catch (error) {
          report("topology", false, error);
          if (closed) return false;
          await new Promise((resolve) => (retryTimer = setTimeout(resolve, maxReconnectDelayMs)));
        }
      }
      return false;
    };
  }

  const opened: RedisConnection = {
    client,
    l1,
    cluster: typeof target !== "string",
    where,
    ready: () => (client.isReady ? client : undefined),
    close: async () => {
      if (closed) return;
      closed = true;
      clearTimeout(retryTimer);
      await closeQuietly(client);
    },
  };
  const connecting = start();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), connectTimeoutMs);
  });
  await Promise.race([connecting, timedOut]);
  clearTimeout(timer);
  return opened;
}

/**
 * Parses `unix://[[user]:password@]/path[?db=N]`.
 *
 * @returns The socket path and credentials, or `undefined` when `url` is not such a URL.
 */
export function parseUnixUrl(
  url: string,
): { path: string; username?: string; password?: string; database?: number } | undefined {
  const match = url.match(/^unix:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?(\/[^?#\s]*)(?:\?([^#\s]*))?$/);
  if (!match || match[3] === "/") return undefined;
  const db = match[4] ? new URLSearchParams(match[4]).get("db") : null;
  if (db !== null && !/^\d+$/.test(db)) return undefined;
  return {
    path: decodeURIComponent(match[3]),
    ...(match[1] ? { username: decodeURIComponent(match[1]) } : {}),
    ...(match[2] ? { password: decodeURIComponent(match[2]) } : {}),
    ...(db !== null ? { database: Number(db) } : {}),
  };
}

/**
 * Closes a client (one node or a cluster), open or not, without `error` events or throws:
 * its pending commands are answered first when it is open, else it is destroyed.
 */
export async function closeQuietly(client: RedisClient): Promise<void> {
  client.removeAllListeners("error");
  client.on("error", () => {});
  try {
    if (client.isOpen) await client.close();
    else client.destroy();
  } catch {
    try {
      client.destroy();
    } catch { /* already closed */ }
  }
}
