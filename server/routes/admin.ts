/**
 * Health, instance metadata, and the administrators' cache flush.
 *
 * @module
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { flushAllServerCaches, getRedis, isRedisConfigured } from "../../lib/mod.ts";
import { requireAdmin } from "../http.ts";
import { CACHE_FORMAT_VERSION, SERVER_VERSION } from "../version.ts";

/** What the admin routes need. */
export interface AdminRoutesDeps {
  adminToken?: string;
  /** The instance id (`WB_INSTANCE`). */
  instance: string;
  /** When the process started (epoch ms). */
  startedAtMs: number;
  log: (line: string) => void;
}

/** `up` when Redis answers, `down` when configured but unreachable, `disabled` otherwise. */
export function redisStatus(): "up" | "down" | "disabled" {
  if (getRedis()) return "up";
  return isRedisConfigured() ? "down" : "disabled";
}

/** `GET /healthz`, `GET /api/instance_meta`, `POST /caches/flush-all`. */
export function adminRoutes({ adminToken, instance, startedAtMs, log }: AdminRoutesDeps): Hono {
  const app = new Hono();

  // Cheap on purpose: no database query, answers while Redis is down.
  app.get("/healthz", (c) =>
    c.json({
      ok: true,
      version: SERVER_VERSION,
      instance,
      redis: redisStatus(),
      uptimeS: Math.round((Date.now() - startedAtMs) / 1000),
    }));

  app.get("/api/instance_meta", (c) =>
    c.json({
      serverVersion: SERVER_VERSION,
      cacheFormatVersion: CACHE_FORMAT_VERSION,
      instance,
      redis: redisStatus(),
      startedAt: new Date(startedAtMs).toISOString(),
    }));

  app.post("/caches/flush-all", async (c) => {
    requireAdmin(c, adminToken);
    const result = await flushAllServerCaches();
    log(JSON.stringify({ event: "cache_flush_all", instance, ...result }));
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
