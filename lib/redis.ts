/**
 * The instance's Redis connection: one node-redis client per process, configured to fail
 * fast so that a missing or slow Redis makes the server slower, never stuck.
 *
 * - connect timeout {@linkcode RedisOptions.connectTimeoutMs}, command timeout
 *   {@linkcode RedisOptions.commandTimeoutMs};
 * - no offline queue: while disconnected, commands fail at once instead of piling up
 *   (node-redis `disableOfflineQueue`);
 * - endless reconnects with capped backoff in the background, so a Redis that goes away
 *   and comes back is used again without restarting the server.
 *
 * @module
 */
import { createClient, type RedisClientType } from "redis";
import { L1Cache, type L1Options } from "./l1.ts";

/** The node-redis client type used across the cache library. */
export type RedisClient = RedisClientType;

/** Options of {@linkcode initRedis}. */
export interface RedisOptions {
  /** Give up waiting for the first connection after this long; reconnects continue. @default {2000} */
  connectTimeoutMs?: number;
  /** A cache call with no reply after this long counts as unavailable. @default {1000} */
  commandTimeoutMs?: number;
  /** Upper bound of the reconnect backoff. @default {2000} */
  maxReconnectDelayMs?: number;
  /** Where state changes are reported (one line each). @default {console.error} */
  log?: (line: string) => void;
  /**
   * The process's L1 in front of Redis (`lib/l1.ts`), kept coherent by RESP3 client
   * tracking on this connection; `false` turns it off. @default {L1Cache defaults}
   */
  l1?: L1Options | false;
}

interface Connection {
  client: RedisClient;
  url: string;
  l1?: L1Cache;
}

let connection: Connection | undefined;
let commandTimeoutMs = 1000;

/** The reply deadline set by the last {@linkcode initRedis}, in ms. @default {1000} */
export function redisCommandTimeoutMs(): number {
  return commandTimeoutMs;
}

/** Removes the password from a Redis URL so it can be logged. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "<unparseable REDIS_URL>";
  }
}

/**
 * Connects the process-wide Redis client.
 *
 * Resolves within about `connectTimeoutMs` whether or not Redis answered: when it did not,
 * the client keeps reconnecting in the background and every cache reads as a miss until
 * then. With no URL (argument and `REDIS_URL` both unset or empty) caching is disabled,
 * one log line says so, and `undefined` is returned.
 *
 * Calling it again closes the previous client first.
 *
 * @param url `redis://[:password@]host:port[/db]`; defaults to `Deno.env.get("REDIS_URL")`
 *   when the process may read the environment.
 * @returns The client (possibly not yet ready), or `undefined` when caching is disabled.
 * @throws {TypeError} If the URL is not a `redis:` or `rediss:` URL.
 */
export async function initRedis(
  url?: string,
  options: RedisOptions = {},
): Promise<RedisClient | undefined> {
  const log = options.log ?? ((line: string) => console.error(line));
  await closeRedis();
  const target = url ?? readEnvUrl();
  if (!target) {
    log(JSON.stringify({ event: "redis_disabled", reason: "REDIS_URL is not set" }));
    return undefined;
  }
  if (!/^rediss?:\/\//.test(target)) {
    throw new TypeError(
      `Cannot connect to Redis: '${redactRedisUrl(target)}' is not a redis:// URL`,
    );
  }
  commandTimeoutMs = options.commandTimeoutMs ?? 1000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 2000;
  const maxReconnectDelayMs = options.maxReconnectDelayMs ?? 2000;
  const l1 = options.l1 === false ? undefined : new L1Cache(options.l1);
  const client = createClient({
    url: target,
    RESP: 3,
    // CLIENT TRACKING ON: Redis pushes an invalidation for every key we read once it changes.
    emitInvalidate: l1 !== undefined,
    disableOfflineQueue: true,
    // Bounds the wait before a command is written; the reply deadline is in _guard.ts.
    commandOptions: { timeout: commandTimeoutMs },
    socket: {
      connectTimeout: connectTimeoutMs,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, maxReconnectDelayMs),
    },
  }) as unknown as RedisClient;
  connection = { client, url: target, l1 };
  l1?.bind(client as unknown as Parameters<L1Cache["bind"]>[0]);

  // node-redis emits `error` on every failed attempt; report transitions only.
  let up: boolean | undefined;
  const where = redactRedisUrl(target);
  client.on("ready", () => {
    if (up !== true) log(JSON.stringify({ event: "redis_ready", url: where }));
    up = true;
  });
  client.on("error", (error: Error) => {
    if (up !== false) {
      log(JSON.stringify({
        event: "redis_unavailable",
        url: where,
        error: String(error?.message ?? error),
        effect: "cache bypassed until Redis answers again",
      }));
    }
    up = false;
  });

  const connecting = client.connect().then(() => true, () => false);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), connectTimeoutMs);
  });
  await Promise.race([connecting, timedOut]);
  clearTimeout(timer);
  return client;
}

function readEnvUrl(): string | undefined {
  try {
    return Deno.env.get("REDIS_URL") || undefined;
  } catch {
    return undefined; // no --allow-env: treat as unset
  }
}

/**
 * The process-wide client when it is connected and ready, else `undefined`.
 *
 * Callers treat `undefined` as "no cache right now": a read is a miss, a write is skipped.
 */
export function getRedis(): RedisClient | undefined {
  const client = connection?.client;
  return client?.isReady ? client : undefined;
}

/** The process's L1 (see {@linkcode RedisOptions.l1}), or `undefined` when off or not connected. */
export function getL1(): L1Cache | undefined {
  return connection?.l1;
}

/** Whether {@linkcode initRedis} was given a URL (caching configured, even if Redis is down). */
export function isRedisConfigured(): boolean {
  return connection !== undefined;
}

/** Closes the process-wide client (pending commands are dropped). Safe to call twice. */
export async function closeRedis(): Promise<void> {
  const current = connection;
  connection = undefined;
  if (!current) return;
  current.client.removeAllListeners("error");
  current.client.on("error", () => {});
  try {
    if (current.client.isOpen) await current.client.close();
    else current.client.destroy();
  } catch {
    try {
      current.client.destroy();
    } catch { /* already closed */ }
  }
}
