/**
 * `GET /api/instance/overview`: heavy aggregates served stale-while-revalidate over
 * epoch-aligned windows. The response tells the window boundary so a client's
 * auto-refresh can land just after it, when the fleet has already refreshed the value:
 *
 * - `X-Cache: HIT` (fresh in this window), `STALE` (an older window's value, served at
 *   once while one refresh runs for the fleet), `MISS` (no value yet: computed now);
 * - `X-Window-Next-Boundary` (ISO-8601) and `X-Window-Ms`;
 * - `Cache-Control: private, max-age=<seconds to the boundary>`.
 *
 * @module
 */
import { Hono } from "hono";
import type { StaleWhileRevalidate } from "../../lib/mod.ts";
import type { Db } from "../db.ts";
import { getInstanceOverview } from "../model/mod.ts";

/** What the overview route needs. */
export interface OverviewRoutesDeps {
  db: Db;
  memo: StaleWhileRevalidate;
  /** The window length, in ms. */
  windowMs: number;
  /** The clock (epoch ms), shared with the memo. @default {Date.now} */
  clock?: () => number;
}

const X_CACHE = { fresh: "HIT", stale: "STALE", computed: "MISS" } as const;

/** Routes under `/api/instance`. */
export function overviewRoutes({ db, memo, windowMs, clock = Date.now }: OverviewRoutesDeps): Hono {
  const app = new Hono();
  app.get("/overview", async (c) => {
    const started = performance.now();
    const result = await memo.memo("instance_overview", windowMs, () => getInstanceOverview(db));
    const secondsLeft = Math.max(0, Math.ceil((result.nextBoundaryMs - clock()) / 1000));
    c.header("X-Cache", X_CACHE[result.state]);
    c.header("X-Window-Ms", String(windowMs));
    c.header("X-Window-Next-Boundary", new Date(result.nextBoundaryMs).toISOString());
    c.header("Cache-Control", `private, max-age=${secondsLeft}`);
    c.header(
      "Server-Timing",
      `memo;dur=${(performance.now() - started).toFixed(1)};desc="${result.state}"`,
    );
    return c.json({
      ...(result.value as object),
      computedAt: new Date(result.computedAt).toISOString(),
    });
  });
  return app;
}
