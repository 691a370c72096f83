/**
 * The Hono app: routes joined with `app.route()`, and one place (`onError`) that turns
 * errors into JSON responses.
 *
 * | error                                   | status                      |
 * | --------------------------------------- | --------------------------- |
 * | `HTTPException`                         | its own (400, 401, 403 ...) |
 * | `ServerError` (`errors.ts`): its own    | `status`, body, headers     |
 * |   `ValidationError` (model)             | 400, naming the field       |
 * |   `NotFoundError` (model)               | 404                         |
 * |   `DatabaseUnavailableError`            | 503 with `Retry-After`      |
 * | anything else                           | 500, logged                 |
 *
 * Before any route, in this order: the `Host` allowlist (421, `peer.ts`), body limits (413,
 * and 400 for nesting, `request_limits.ts`), then the caller. Every JSON answer carries
 * `X-Content-Type-Options: nosniff` and, unless its route says otherwise,
 * `Cache-Control: private, no-store`.
 *
 * Access (callers resolved in `auth.ts`): `/healthz`, `/api/instance_meta`,
 * `/api/auth/*` and the web client's files are public; every other `GET /api/…` needs a
 * viewer (a session, a viewer or admin token, or `OPEN_ACCESS`); writes, the flush and
 * the cache page need an administrator; unsafe requests from another origin are refused.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ServerCaches } from "./caches.ts";
import type { Db } from "./db.ts";
import { ServerError } from "./errors.ts";
import { COMPLETE_HEADERS } from "./http.ts";
import { authentication, authorize } from "./auth.ts";
import { FlushLog } from "./cache_flush.ts";
import { CacheCounters } from "./cache_stats.ts";
import { adminRoutes } from "./routes/admin.ts";
import { authRoutes } from "./routes/auth.ts";
import { cacheAdminRoutes } from "./routes/cache_admin.ts";
import { clientRoutes } from "./routes/client.ts";
import { datasetRoutes } from "./routes/datasets.ts";
import { eventRoutes, type EventRoutesDeps } from "./routes/events.ts";
import { mirrorRoutes } from "./routes/mirror.ts";
import { projectRoutes } from "./routes/projects.ts";
import { overviewRoutes, OverviewWindows } from "./routes/overview.ts";
import { labelRoutes } from "./routes/labels.ts";
import { batchRoutes } from "./routes/batch.ts";
import { runRoutes } from "./routes/runs.ts";
import { EVENT_STREAM_PATH } from "./routes/events.ts";
import { EntityAllowlists } from "./allowlists.ts";
import { loginRateLimit } from "./login_rate_limit.ts";
import { OpenStreams } from "./open_streams.ts";
import { clientAddress, hostAllowlist } from "./peer.ts";
import { requestLimits } from "./request_limits.ts";
import { StaleWhileRevalidate } from "../lib/mod.ts";
import type { Registry } from "prom-client";
import { ServerEvents, versionedWrites } from "./events/mod.ts";
import { CACHE_FORMAT_VERSION } from "./version.ts";
import type { PostgresState } from "./postgres_health.ts";
import { queryVersions, type VersionSource } from "./versions.ts";
import type { SessionSource } from "./session_cache.ts";

/** What the app needs; tests pass a real database and caches on a test Redis. */
export interface AppDeps {
  db: Db;
  /**
   * The database of the cold computations (the aggregates a cache miss computes); the
   * server's is `db` bounded to `FILL_CONCURRENCY` statements at once (`bounded_db.ts`).
   * @default {db, unbounded}
   */
  computeDb?: Db;
  caches: ServerCaches;
  /** Bearer token of administrators (`ADMIN_TOKEN`); unset disables admin actions. */
  adminToken?: string;
  /** Instance id (`WB_INSTANCE`). @default {"local"} */
  instance?: string;
  /** Where errors and admin actions are logged, one JSON line each. @default {console.error} */
  log?: (line: string) => void;
  /** The metrics registry `GET /metrics` renders; absent: no metrics route. */
  metrics?: Registry;
  /** Bearer token `GET /metrics` requires (`METRICS_TOKEN`); unset: loopback peers only. */
  metricsToken?: string;
  /** The stale-while-revalidate memo of windowed aggregates. @default {one for `instance`} */
  memo?: StaleWhileRevalidate;
  /** Window of the instance overview, in ms. @default {300_000} */
  overviewWindowMs?: number;
  /**
   * The instance overview's windows (the entry starts their prewarm).
   * @default {one on `memo`, `overviewWindowMs` and `clock`, without prewarm}
   */
  overview?: OverviewWindows;
  /** The clock (epoch ms) of windowed responses. @default {Date.now} */
  clock?: () => number;
  /**
   * Events: versioned writes announce themselves through it, SSE streams listen to it.
   * @default {events that stay in this process, no mirrors}
   */
  events?: ServerEvents;
  /** Bearer token of viewers (`VIEWER_TOKEN`): may read and open event streams. */
  viewerToken?: string;
  /**
   * `OPEN_ACCESS`: anonymous callers are viewers (reads, event streams), never
   * administrators. @default {false}
   */
  openAccess?: boolean;
  /** The built web client. @default {client/dist/} */
  clientDir?: URL;
  /** Where flushes are recorded. @default {one on the process's Redis} */
  flushLog?: FlushLog;
  /** Hit and miss counts per cache. @default {counting from now} */
  cacheCounters?: CacheCounters;
  /** Shared secret of signed mirror invalidations (`MIRROR_SECRET`); unset refuses them. */
  mirrorSecret?: string;
  /** Event stream settings (heartbeat, queue bound, caps). */
  sse?: SseSettings;
  /**
   * `ALLOWED_HOSTS`: host names the server answers to (`["*"]`: any). IP literals and
   * `localhost` are always answered. @default {["*"], or none under `OPEN_ACCESS`}
   */
  allowedHosts?: readonly string[];
  /**
   * `TRUSTED_PROXIES`: peer addresses whose `X-Forwarded-For` names the client (the login
   * limit and anonymous stream caps count per client). @default {["127.0.0.1", "::1"]}
   */
  trustedProxies?: readonly string[];
  /** `LOGIN_MAX_FAILURES`: failed logins per address per 10 minutes; 0: no limit. @default {20} */
  loginMaxFailures?: number;
  /** Whether Postgres answers, for `/healthz` (`PostgresHealth.state`). @default {unknown} */
  postgresHealth?: () => PostgresState;
  /**
   * Where the cached routes get versions: the version table (`version_table.ts`, pushed by
   * Postgres) or a query per request. @default {queryVersions(db)}
   */
  versions?: VersionSource;
  /**
   * Where a session's user comes from: the version table's session cache (pushed by
   * Postgres), so a logged-in user's hit needs no pool connection.
   * @default {a lookup in `db` per request}
   */
  sessions?: SessionSource;
}

/** Event stream settings of {@linkcode AppDeps}. */
export interface SseSettings
  extends Pick<EventRoutesDeps, "heartbeatMs" | "maxQueuedEvents" | "retryMs"> {
  /** `SSE_MAX_STREAMS_PER_USER`: streams one user may hold per process. @default {1500} */
  maxStreamsPerUser?: number;
  /** `SSE_MAX_STREAMS`: streams one process may hold. @default {10_000} */
  maxStreams?: number;
  /** How often sessions of open streams are checked, in ms. @default {500} */
  sessionCheckMs?: number;
}

/** Default {@linkcode AppDeps.trustedProxies}: a reverse proxy on this host. */
export const DEFAULT_TRUSTED_PROXIES: readonly string[] = Object.freeze(["127.0.0.1", "::1"]);

/** `GET /api/…` paths anyone may read. */
const PUBLIC_API = new Set(["/api/instance_meta", "/api/auth/me"]);

/** Builds the app. */
export async function createApp(deps: AppDeps): Promise<Hono> {
  const log = deps.log ?? ((line: string) => console.error(line));
  const instance = deps.instance ?? "local";
  const flushLog = deps.flushLog ??
    new FlushLog({ store: deps.caches.store, formatVersion: CACHE_FORMAT_VERSION });
  const trustedProxies = deps.trustedProxies ?? DEFAULT_TRUSTED_PROXIES;
  const addressOf = (c: Context) => clientAddress(c, trustedProxies);
  const versions = deps.versions ?? queryVersions(deps.db);
  const computeDb = deps.computeDb ?? deps.db;
  const app = new Hono();
  app.use("*", async (c, next) => {
    await next();
    if (COMPLETE_HEADERS.has(c.res)) return;
    const headers = c.res.headers;
    if (!headers.has("x-content-type-options")) headers.set("x-content-type-options", "nosniff");
    if (
      headers.get("content-type")?.startsWith("application/json") && !headers.has("cache-control")
    ) {
      headers.set("cache-control", "private, no-store");
    }
  });
  app.use(
    "*",
    hostAllowlist({ allowedHosts: deps.allowedHosts ?? (deps.openAccess ? [] : ["*"]) }),
  );
  app.use("*", requestLimits());
  app.use(
    "*",
    authentication({
      db: deps.db,
      instance,
      adminToken: deps.adminToken,
      viewerToken: deps.viewerToken,
      openAccess: deps.openAccess ?? false,
      sessions: deps.sessions,
      log,
    }),
  );
  app.use("/api/*", async (c, next) => {
    if ((c.req.method === "GET" || c.req.method === "HEAD") && !PUBLIC_API.has(c.req.path)) {
      // EventSource cannot send headers: the two event streams also take `?access_token=`.
      await authorize(c, "viewer", { allowQueryToken: EVENT_STREAM_PATH.test(c.req.path) });
    }
    await next();
  });
  app.route(
    "/",
    adminRoutes({
      store: deps.caches.store,
      instance,
      postgres: deps.postgresHealth,
      versions: () =>
        deps.versions && "state" in deps.versions ? String(deps.versions.state) : "query",
      startedAtMs: Date.now(),
      log,
      metrics: deps.metrics,
      metricsToken: deps.metricsToken,
      flushLog,
    }),
  );
  const streams = new OpenStreams({
    db: deps.db,
    maxPerUser: deps.sse?.maxStreamsPerUser,
    maxTotal: deps.sse?.maxStreams,
    sessionCheckMs: deps.sse?.sessionCheckMs,
    log,
  });
  app.post(
    "/api/auth/login",
    loginRateLimit({ maxFailures: deps.loginMaxFailures, addressOf }),
  );
  app.route(
    "/api/auth",
    authRoutes({
      db: deps.db,
      instance,
      openAccess: deps.openAccess ?? false,
      log,
      streams,
      sessions: deps.sessions,
    }),
  );
  app.route(
    "/api/admin",
    cacheAdminRoutes({
      counters: deps.cacheCounters ?? new CacheCounters(deps.caches.store.observers),
      flushLog,
      caches: deps.caches,
    }),
  );
  const events = deps.events ?? new ServerEvents({ db: deps.db, instance });
  const memo = deps.overview?.memo ?? deps.memo ??
    new StaleWhileRevalidate({ tenant: instance, store: deps.caches.store, log });
  // Windowed aggregates carry no version: a dataset or structure change makes them stale
  // (their last good value is still served while one refresh runs).
  events.onClear("windowed_aggregate", () => memo.invalidate());
  // The structure cache has a version, but a structure import also empties it.
  events.onClear("structure", () => deps.caches.structure.clearAll());
  const allowlists = new EntityAllowlists(deps.db);
  app.route(
    "/api/projects",
    projectRoutes({
      ...deps,
      computeDb,
      writes: versionedWrites(deps.db, events, versions),
      allowlists,
      versions,
    }),
  );
  app.route(
    "/api",
    eventRoutes({
      events,
      heartbeatMs: deps.sse?.heartbeatMs,
      maxQueuedEvents: deps.sse?.maxQueuedEvents,
      retryMs: deps.sse?.retryMs,
      streams,
      addressOf,
    }),
  );
  app.route(
    "/api",
    mirrorRoutes({
      events,
      store: deps.caches.store,
      adminToken: deps.adminToken,
      mirrorSecret: deps.mirrorSecret,
    }),
  );
  app.route("/api/projects", batchRoutes({ ...deps, computeDb, versions }));
  app.route("/api/projects", runRoutes(deps));
  app.route("/api", datasetRoutes({ ...deps, computeDb, allowlists, versions }));
  app.route("/api", labelRoutes({ ...deps, versions }));
  const overview = deps.overview ?? new OverviewWindows({
    db: deps.db,
    memo,
    windowMs: deps.overviewWindowMs ?? 300_000,
    clock: deps.clock,
  });
  app.route("/api/instance", overviewRoutes({ windows: overview, clock: deps.clock }));
  const client = await clientRoutes(deps.clientDir);
  app.route("/", client.routes);

  app.notFound((c) =>
    client.notFoundPage(c) ??
      c.json({ error: "not_found", message: `No route ${c.req.method} ${c.req.path}` }, 404)
  );
  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      // Headers of the exception's own response, but not its `text/plain` content type:
      // the answer is JSON.
      const headers = Object.fromEntries(error.getResponse().headers);
      delete headers["content-type"];
      return c.json(
        { error: errorCode(error.status), message: error.message },
        error.status,
        headers,
      );
    }
    if (error instanceof ServerError) {
      const { status, body, headers } = error.answer();
      return c.json(body, status, headers);
    }
    log(JSON.stringify({
      event: "request_error",
      method: c.req.method,
      path: c.req.path,
      error: String(error?.stack ?? error),
    }));
    return c.json({ error: "internal", message: "Internal server error" }, 500);
  });
  return app;
}

function errorCode(status: number): string {
  return ({
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    408: "request_timeout",
    413: "payload_too_large",
    421: "misdirected_request",
    429: "too_many_requests",
  } as Record<number, string>)[status] ?? (status >= 500 ? "unavailable" : "error");
}
