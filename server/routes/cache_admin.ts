/**
 * `GET /api/admin/caches` (administrators): per cache prefix, the keys in Redis, their
 * estimated memory, this process's hit ratio, and the last flush (see `cache_stats.ts`).
 *
 * @module
 */
import { Hono } from "hono";
import { getRedis, isRedisConfigured } from "../../lib/mod.ts";
import { requireAdmin } from "../auth.ts";
import type { FlushLog } from "../cache_flush.ts";
import { type CacheCounters, collectCacheStats } from "../cache_stats.ts";
import { SERVER_CACHES } from "../cache_registry.ts";

/** What the cache page's route needs. */
export interface CacheAdminRoutesDeps {
  counters: CacheCounters;
  flushLog: FlushLog;
}

/** Routes under `/api/admin`. */
export function cacheAdminRoutes({ counters, flushLog }: CacheAdminRoutesDeps): Hono {
  const app = new Hono();
  app.get("/caches", async (c) => {
    await requireAdmin(c);
    c.header("Cache-Control", "no-store");
    return c.json(
      await collectCacheStats({
        redis: getRedis(),
        redisConfigured: isRedisConfigured(),
        counters,
        flushLog,
        prefixes: [...SERVER_CACHES.keys()],
      }),
    );
  });
  return app;
}
