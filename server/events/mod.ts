/**
 * The server's events: versioned writes that announce themselves, the entity graph, the
 * fan-out to every process (Redis pub/sub) and to browsers (SSE), mirroring to other
 * instances, and the cache event log.
 *
 * @module
 */
import { EventBus } from "../../lib/mod.ts";
import type { Db } from "../db.ts";
import { type CacheEventLog, createCacheEventLog } from "./event_log.ts";
import type { ServerConfig } from "../config.ts";
import { type MirrorRetryPolicy, MirrorSender } from "./mirror.ts";
import { ServerEvents } from "./server_events.ts";
import type { UnnumberedEvent } from "./types.ts";
import type { RedisStore } from "../../lib/mod.ts";

export * from "./types.ts";
export * from "./graph.ts";
export * from "./entities.ts";
export * from "./state.ts";
export * from "./event_log.ts";
export * from "./mirror.ts";
export * from "./server_events.ts";
export * from "./writes.ts";

/** The Redis pub/sub channel of the server's events (its counter: `wb:events:seq`). */
export const EVENT_CHANNEL = "wb:events";

/** Options of {@linkcode createServerEvents}. */
export interface CreateServerEventsOptions {
  db: Db;
  /** This instance's id. */
  instance: string;
  /**
   * The instance's Redis: events fan out through its pub/sub (a disabled store keeps them
   * in this process).
   */
  store: RedisStore;
  /** Base URLs of the instances to mirror local invalidations to (`CACHE_MIRRORS`). */
  mirrors?: readonly string[];
  /** The shared mirror secret (`MIRROR_SECRET`); required when `mirrors` is not empty. */
  mirrorSecret?: string;
  /** Retry schedule of mirror deliveries. */
  mirrorRetry?: Partial<MirrorRetryPolicy>;
  /** The cache event log. */
  log?: CacheEventLog;
}

/**
 * Builds a process's {@linkcode ServerEvents}: its bus (subscribing in the background when
 * the store has Redis configured) and its mirror sender.
 *
 * @throws {TypeError} If `mirrors` is not empty and `mirrorSecret` is unset, or a mirror is
 *   not an http(s) URL.
 */
export function createServerEvents(options: CreateServerEventsOptions): ServerEvents {
  const bus = new EventBus<UnnumberedEvent>(EVENT_CHANNEL, { store: options.store });
  if (options.store.configured) bus.start();
  let mirrors: MirrorSender | undefined;
  if (options.mirrors?.length) {
    if (!options.mirrorSecret) {
      throw new TypeError("Cannot mirror invalidations: 'mirrorSecret' is not set");
    }
    mirrors = new MirrorSender({
      mirrors: options.mirrors,
      secret: options.mirrorSecret,
      instance: options.instance,
      log: options.log ?? { info() {}, warn() {} },
      retry: options.mirrorRetry,
    });
  }
  return new ServerEvents({
    db: options.db,
    instance: options.instance,
    bus,
    log: options.log,
    mirrors,
  });
}

/**
 * The events of a process started from the configuration (the server and the loader): fanned
 * out through `store`, mirrored to `CACHE_MIRRORS`, logged to `CACHE_EVENT_LOG`.
 *
 * @throws {TypeError} See {@linkcode createServerEvents}.
 */
export function serverEventsFromConfig(
  config: Pick<ServerConfig, "instance" | "cacheMirrors" | "mirrorSecret" | "cacheEventLog">,
  db: Db,
  store: RedisStore,
): ServerEvents {
  return createServerEvents({
    db,
    instance: config.instance,
    store,
    mirrors: config.cacheMirrors,
    mirrorSecret: config.mirrorSecret,
    log: createCacheEventLog({ instance: config.instance, destination: config.cacheEventLog }),
  });
}
