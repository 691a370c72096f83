/**
 * `GET /api/admin/caches` (administrators): per cache prefix, the keys in Redis, their
 * estimated memory, this process's hit ratio, the last flush (see `cache_stats.ts`), and
 * the clears this process could not yet land in Redis (`pendingClears`, by cache).
 *
 * @module
 */
import { Hono } from "hono";
import { requireAdmin } from "../auth.ts";
import type { FlushLog } from "../cache_flush.ts";
import type { ServerCaches } from "../caches.ts";
import { type CacheCounters, collectCacheStats } from "../cache_stats.ts";
import { SERVER_CACHES } from "../cache_registry.ts";
import type { CacheStatsAnswer } from "../wire.ts";

/** What the cache page's route needs. */
export interface CacheAdminRoutesDeps {
  counters: CacheCounters;
  flushLog: FlushLog;
  /** The route caches (and the store they were built on): Redis, and the clears this process has not yet landed there. */
  caches: ServerCaches;
}

/** Routes under `/api/admin`. */
export function cacheAdminRoutes({ counters, flushLog, caches }: CacheAdminRoutesDeps): Hono {
  const app = new Hono();
  app.get("/caches", requireAdmin(), async (c) => {
    c.header("Cache-Control", "no-store");
    const stats = await collectCacheStats({
      store: caches.store,
      counters,
      flushLog,
      prefixes: [...SERVER_CACHES.keys()],
    });
    // Clears Redis did not get yet (retried in the background; this process bypasses what
    // they cover meanwhile): by cache, only where there are some.
    const pendingClears = Object.fromEntries(
      Object.values(caches).flatMap((cache) => {
        const pending = (cache as { pendingClears?: { keys: number; all: boolean } }).pendingClears;
        const name = (cache as { name?: string; prefix?: string }).prefix;
        return pending && name && (pending.keys > 0 || pending.all) ? [[name, pending]] : [];
      }),
    );
    return c.json({ ...stats, pendingClears } satisfies CacheStatsAnswer);
  });
  return app;
}
