/**
 * The server's configuration, read from the environment by `main.ts` only. Each variable
 * is documented in the README's config table; its name comes from `env_contract.ts`, which
 * the cli shares.
 *
 * @module
 */

import type { RedisTarget } from "../lib/mod.ts";
import { ENV_NAMES as ENV, type EnvName } from "./env_contract.ts";
import { type CacheLogLevel, parseLogLevel } from "./observability.ts";
import { defaultFillConcurrency } from "./bounded_db.ts";

/** The parsed configuration. */
export interface ServerConfig {
  /** `PORT`: TCP port to listen on. @default {8000} */
  port: number;
  /** `HOST`: address to bind. @default {"0.0.0.0"} */
  host: string;
  /** `DATABASE_URL`: Postgres URL; unset runs an embedded Postgres (PGlite) with sample data. */
  databaseUrl?: string;
  /** `PGLITE_DIR`: where the embedded Postgres keeps its files; unset keeps it in memory. */
  pgliteDir?: string;
  /** `REDIS_URL`: the instance's Redis; unset disables the Redis cache. */
  redisUrl?: string;
  /**
   * `REDIS_CLUSTER_NODES`: seed URLs of the instance's Redis Cluster (comma-separated
   * `redis://[:password@]host:port`, a few of its nodes); instead of `REDIS_URL`.
   */
  redisClusterNodes: string[];
  /** `REDIS_ENABLED`: `false` turns the Redis cache off entirely, even with a URL. @default {true} */
  redisEnabled: boolean;
  /**
   * `VERSION_TABLE`: `false` makes the cached routes query their versions per request instead
   * of reading the version table Postgres pushes (`version_table.ts`); for diagnosis and the
   * benchmark's comparison. @default {true}
   */
  versionTable: boolean;
  /** `REDIS_LOG_LEVEL`: cache log lines (`debug` adds keys, `info` one per operation). @default {"info"} */
  redisLogLevel: CacheLogLevel;
  /** `METRICS_TOKEN`: bearer token `GET /metrics` requires; unset: loopback peers only. */
  metricsToken?: string;
  /** `REDIS_COMMAND_TIMEOUT_MS`: reply deadline of a cache call. @default {1000} */
  redisCommandTimeoutMs: number;
  /**
   * `FILL_CONCURRENCY`: cold computations (cache fills' aggregate queries) this process runs
   * on Postgres at once; the rest queue in the app (`bounded_db.ts`).
   * @default {the host's cores - 1, shared among `DENO_JOBS` workers, 1 to 8}
   */
  fillConcurrency: number;
  /** `ADMIN_TOKEN`: bearer token of administrators; unset disables admin actions. */
  adminToken?: string;
  /** `WB_INSTANCE`: the instance id, reported by `/healthz` and in logs. @default {"local"} */
  instance: string;
  /** `VIEWER_TOKEN`: bearer token of viewers (reads, event streams); unset: admins only. */
  viewerToken?: string;
  /** `OPEN_ACCESS`: anonymous callers are viewers (never admins), for demos. @default {false} */
  openAccess: boolean;
  /** `WB_PRODUCTION`: the instance is a production one (refuses `OPEN_ACCESS`). @default {false} */
  production: boolean;
  /** `CACHE_MIRRORS`: base URLs of instances to mirror invalidations to (comma-separated). */
  cacheMirrors: string[];
  /** `MIRROR_SECRET`: shared secret signing mirrored invalidations (at least 32 characters). */
  mirrorSecret?: string;
  /** `CACHE_EVENT_LOG`: file the cache event log is appended to; unset: stderr. */
  cacheEventLog?: string;
  /**
   * `ALLOWED_HOSTS`: host names the server answers to (comma-separated, no port; `*`: any).
   * IP literals and `localhost` are always answered. Unset: any, or under `OPEN_ACCESS` none
   * but those.
   */
  allowedHosts?: string[];
  /**
   * `TRUSTED_PROXIES`: peer addresses whose `X-Forwarded-For` names the client
   * (comma-separated; empty: none). @default {["127.0.0.1", "::1"]}
   */
  trustedProxies?: string[];
  /** `LOGIN_MAX_FAILURES`: failed logins per client address per 10 minutes (0: off). @default {20} */
  loginMaxFailures: number;
  /** `SSE_MAX_STREAMS_PER_USER`: event streams one user may hold per process. @default {1500} */
  sseMaxStreamsPerUser: number;
  /** `SSE_MAX_STREAMS`: event streams one process may hold. @default {10000} */
  sseMaxStreams: number;
}

/** Shortest accepted `ADMIN_TOKEN`, `VIEWER_TOKEN`, `METRICS_TOKEN` and `MIRROR_SECRET`. */
export const MIN_SECRET_LENGTH = 32;

/**
 * Parses the environment.
 *
 * @throws {RangeError} If a number is malformed or out of range, a mirror is not an http(s)
 *   URL or carries credentials, `CACHE_MIRRORS` is set without a `MIRROR_SECRET` of at least
 *   32 characters, `ADMIN_TOKEN`, `VIEWER_TOKEN`, `METRICS_TOKEN` or `MIRROR_SECRET` is
 *   shorter than 32 characters or equal to another of them, or `OPEN_ACCESS=true` on an
 *   instance marked `WB_PRODUCTION=true` (the message names the variable; never a secret).
 */
export function readConfig(env: Record<string, string | undefined>): ServerConfig {
  const text = (name: EnvName) => env[name]?.trim() || undefined;
  const bool = (name: EnvName, fallback: boolean) => {
    const raw = text(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (["true", "1", "yes", "on"].includes(raw)) return true;
    if (["false", "0", "no", "off"].includes(raw)) return false;
    throw new RangeError(`${name} must be true or false, got '${text(name)}'`);
  };
  const list = (name: EnvName) =>
    env[name] === undefined
      ? undefined
      : env[name]!.split(",").map((item) => item.trim()).filter(Boolean);
  const int = (name: EnvName, fallback: number, min: number, max: number) => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`${name} must be an integer from ${min} to ${max}, got '${raw}'`);
    }
    return value;
  };
  const cacheMirrors = (text(ENV.cacheMirrors) ?? "").split(",").map((url) => url.trim())
    .filter(Boolean);
  for (const url of cacheMirrors) {
    if (!/^https?:\/\/[^/\s]+/.test(url)) {
      throw new RangeError(`CACHE_MIRRORS must list http(s) URLs, got '${withoutUserinfo(url)}'`);
    }
    if (/^https?:\/\/[^/?#\s]*@/.test(url)) {
      // The request's Authorization header carries the signed token: credentials in the URL
      // would break it (fetch adds a Basic one) and would be written to every log line.
      throw new RangeError(
        `CACHE_MIRRORS must not carry credentials (user:password@): the signed token ` +
          `authenticates; got '${withoutUserinfo(url)}'`,
      );
    }
  }
  const mirrorSecret = text(ENV.mirrorSecret);
  checkSecrets([ENV.adminToken, ENV.viewerToken, ENV.metricsToken, ENV.mirrorSecret], text);
  if (cacheMirrors.length > 0 && mirrorSecret === undefined) {
    throw new RangeError("CACHE_MIRRORS is set but MIRROR_SECRET is not");
  }
  const redisClusterNodes = (text(ENV.redisClusterNodes) ?? "").split(",").map((url) => url.trim())
    .filter(Boolean);
  for (const url of redisClusterNodes) {
    if (!/^rediss?:\/\/[^/\s]+/.test(url)) {
      throw new RangeError(`REDIS_CLUSTER_NODES must list redis:// URLs, got '${url}'`);
    }
  }
  if (redisClusterNodes.length > 0 && text(ENV.redisUrl) !== undefined) {
    throw new RangeError("REDIS_URL and REDIS_CLUSTER_NODES are both set: set one of them");
  }
  const openAccess = bool(ENV.openAccess, false);
  const production = bool(ENV.production, false);
  if (openAccess && production) {
    throw new RangeError(
      "OPEN_ACCESS=true is refused on a production instance (WB_PRODUCTION=true): " +
        "open access lets anyone read the instance's data without logging in",
    );
  }
  return {
    port: int(ENV.port, 8000, 0, 65535),
    host: text(ENV.host) ?? "0.0.0.0",
    databaseUrl: text(ENV.databaseUrl),
    pgliteDir: text(ENV.pgliteDir),
    redisUrl: text(ENV.redisUrl),
    redisClusterNodes,
    redisEnabled: bool(ENV.redisEnabled, true),
    versionTable: bool(ENV.versionTable, true),
    redisLogLevel: parseLogLevel(text(ENV.redisLogLevel)),
    metricsToken: text(ENV.metricsToken),
    redisCommandTimeoutMs: int(ENV.redisCommandTimeoutMs, 1000, 10, 60_000),
    fillConcurrency: int(
      ENV.fillConcurrency,
      // DENO_JOBS is Deno's to read (`deno serve --parallel`): a value it would not take
      // counts as one worker here rather than refusing to boot.
      defaultFillConcurrency(
        navigator.hardwareConcurrency,
        Math.max(1, Number.parseInt(text(ENV.workers) ?? "1", 10) || 1),
      ),
      1,
      1000,
    ),
    adminToken: text(ENV.adminToken),
    instance: text(ENV.instance) ?? "local",
    viewerToken: text(ENV.viewerToken),
    openAccess,
    production,
    cacheMirrors,
    mirrorSecret,
    cacheEventLog: text(ENV.cacheEventLog),
    allowedHosts: list(ENV.allowedHosts)?.map((host) => host.toLowerCase().replace(/\.$/, "")),
    trustedProxies: list(ENV.trustedProxies),
    loginMaxFailures: int(ENV.loginMaxFailures, 20, 0, 1_000_000),
    sseMaxStreamsPerUser: int(ENV.sseMaxStreamsPerUser, 1500, 1, 1_000_000),
    sseMaxStreams: int(ENV.sseMaxStreams, 10_000, 1, 1_000_000),
  };
}

/**
 * Checks that each secret that is set has at least {@linkcode MIN_SECRET_LENGTH} characters
 * and differs from the others: a short token can be guessed, and a shared one would make a
 * viewer an administrator (or a scraper either).
 *
 * @throws {RangeError} Naming the variables, never their values.
 */
function checkSecrets(names: EnvName[], text: (name: EnvName) => string | undefined): void {
  const seen = new Map<string, string>();
  for (const name of names) {
    const value = text(name);
    if (value === undefined) continue;
    if (value.length < MIN_SECRET_LENGTH) {
      throw new RangeError(
        `${name} must have at least ${MIN_SECRET_LENGTH} characters (it has ${value.length}); ` +
          "generate one with: openssl rand -base64 32",
      );
    }
    const same = seen.get(value);
    if (same !== undefined) {
      throw new RangeError(`${name} must differ from ${same}: each credential grants its own role`);
    }
    seen.set(value, name);
  }
}

/** `url` with its `user:password@` part, if any, replaced by `***@` (for messages). */
export function withoutUserinfo(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#\s]*@/i, "$1***@");
}

/**
 * The Redis the server connects to: the cluster when `REDIS_CLUSTER_NODES` is set, else
 * `REDIS_URL` (`undefined`: no Redis).
 */
export function redisTargetOf(
  config: Pick<ServerConfig, "redisUrl" | "redisClusterNodes">,
): RedisTarget | undefined {
  return config.redisClusterNodes.length > 0
    ? { clusterNodes: config.redisClusterNodes }
    : config.redisUrl;
}
