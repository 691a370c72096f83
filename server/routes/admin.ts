/**
 * Health, instance metadata, and the administrators' cache flush.
 *
 * @module
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { flushAllServerCaches, type RedisStore } from "../../lib/mod.ts";
import type { Registry } from "prom-client";
import { bearerToken, requireAdmin, tokenMatches } from "../auth.ts";
import { isForwarded, isLoopbackAddress, peerAddress } from "../peer.ts";
import type { FlushLog } from "../cache_flush.ts";
import type { PostgresState } from "../postgres_health.ts";
import { CACHE_FORMAT_VERSION, SERVER_VERSION } from "../version.ts";
import type { InstanceMeta } from "../wire.ts";

/** What the admin routes need. */
export interface AdminRoutesDeps {
  /** The instance's Redis (status, flush-all). */
  store: RedisStore;
  /** The metrics registry rendered by `GET /metrics`; absent: no metrics route. */
  metrics?: Registry;
  /** Bearer token `GET /metrics` requires (`METRICS_TOKEN`); unset: loopback peers only. */
  metricsToken?: string;
  /** Where flushes are recorded (the cache page shows the last one). */
  flushLog: FlushLog;
  /** The instance id (`WB_INSTANCE`). */
  instance: string;
  /** When the process started (epoch ms). */
  startedAtMs: number;
  log: (line: string) => void;
  /** Whether Postgres answers (`PostgresHealth.state`); absent: reported as `unknown`. */
  postgres?: () => PostgresState;
  /**
   * Where the cached routes get versions now: the version table's state (`trusted` means
   * from the table; `connecting`/`loading`: the per-request query), or `query` without a
   * table. @default {() => "query"}
   */
  versions?: () => string;
}

/** `GET /healthz`, `GET /api/instance_meta`, `POST /caches/flush-all`. */
export function adminRoutes(
  { store, instance, startedAtMs, log, metrics, metricsToken, flushLog, postgres, versions }:
    AdminRoutesDeps,
): Hono {
  const app = new Hono();

  if (metrics) {
    // Prometheus text exposition: cache hits, misses, errors, latency, fills, Redis up.
    // Without METRICS_TOKEN, only a scraper on this host gets it: a loopback peer whose
    // request did not come through a proxy.
    app.get("/metrics", async (c) => {
      if (!metricsToken && (!isLoopbackAddress(peerAddress(c)) || isForwarded(c))) {
        throw new HTTPException(403, {
          message: "GET /metrics answers loopback only: set METRICS_TOKEN to scrape it remotely",
        });
      }
      if (metricsToken) {
        const token = bearerToken(c);
        if (!token) {
          throw new HTTPException(401, { message: "GET /metrics needs the metrics bearer token" });
        }
        if (!tokenMatches(token, metricsToken)) {
          throw new HTTPException(403, { message: "The metrics token is not valid" });
        }
      }
      return c.body(await metrics.metrics(), 200, { "content-type": metrics.contentType });
    });
  }

  // Which instance answers, and whether it can serve: Postgres (checked in the background,
  // never by this request) and Redis (the client's state). Always 200 while the process
  // serves (a liveness answer, as before); `ok` and `status` say whether it can serve data:
  // `down` without Postgres, `degraded` without Redis (served uncached).
  app.get("/healthz", (c) => {
    const pg = postgres?.() ?? "unknown";
    const redis = store.status();
    return c.json({
      ok: pg !== "down",
      status: pg === "down" ? "down" : redis === "down" ? "degraded" : "ok",
      version: SERVER_VERSION,
      instance,
      postgres: pg,
      redis,
      versions: versions?.() ?? "query",
      uptimeS: Math.round((Date.now() - startedAtMs) / 1000),
    });
  });

  app.get("/api/instance_meta", (c) =>
    c.json(
      {
        serverVersion: SERVER_VERSION,
        cacheFormatVersion: CACHE_FORMAT_VERSION,
        instance,
        redis: store.status(),
        startedAt: new Date(startedAtMs).toISOString(),
      } satisfies InstanceMeta,
    ));

  app.post("/caches/flush-all", requireAdmin(), async (c) => {
    const caller = c.get("caller");
    const result = await flushAllServerCaches(store);
    const by = caller.user?.email ?? "admin token";
    await flushLog.record({
      at: new Date().toISOString(),
      by,
      reason: "flush-all",
      redis: result.redis,
      serverVersion: SERVER_VERSION,
    });
    log(JSON.stringify({ event: "cache_flush_all", instance, by, ...result }));
    if (result.redis === "unavailable") {
      c.header("Retry-After", "5");
      throw new HTTPException(503, {
        message: "Redis is unavailable: in-process caches were flushed, Redis was not",
      });
    }
    return c.json({ success: true });
  });

  return app;
}
