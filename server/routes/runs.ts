/**
 * `GET /api/projects/:projectId/modules/:moduleId/runs/:runId`: a finished module run's
 * results summary (rows, counts and outliers per indicator), as an immutable record:
 * cached without TTL, positive results only. A run id that is not the module's current
 * run is a 404 (the results of superseded runs are gone) and is never cached.
 *
 * @module
 */
import { Hono } from "hono";
import { runIdOf, type ServerCaches } from "../caches.ts";
import type { Db } from "../db.ts";
import { idParam } from "../http.ts";
import { NotFoundError } from "../model/mod.ts";

/** What the run routes need. */
export interface RunRoutesDeps {
  db: Db;
  caches: ServerCaches;
}

/** Routes under `/api/projects`. */
export function runRoutes({ db, caches }: RunRoutesDeps): Hono {
  const app = new Hono();
  app.get("/:projectId/modules/:moduleId/runs/:runId", async (c) => {
    const projectId = idParam(c, "projectId");
    const moduleId = idParam(c, "moduleId");
    const runId = idParam(c, "runId");
    const currentRun = async () => {
      const rows = await db.query<{ lastRun: string | null }>(
        `SELECT iso_ts(last_run) AS "lastRun" FROM modules WHERE project_id = $1 AND module_id = $2`,
        [projectId, moduleId],
      );
      return rows[0]?.lastRun ?? null;
    };
    const id = `${projectId}.${moduleId}.${runId}`;
    const exists = await caches.moduleRuns.exists(id, async () => {
      const lastRun = await currentRun();
      return lastRun !== null && runIdOf(lastRun) === runId;
    });
    if (!exists) throw new NotFoundError("module run", runId);
    const { value, hit } = await caches.moduleRuns.get(id, async () => {
      const lastRun = await currentRun();
      if (lastRun === null || runIdOf(lastRun) !== runId) return undefined; // superseded meanwhile
      const indicators = await db.query(
        `SELECT r.indicator_id AS "indicatorId", count(*)::int AS rows, sum(r.count)::float8 AS count,
                sum(r.count_adjusted)::float8 AS "countAdjusted", sum(r.outlier)::int AS outliers
           FROM results_hmis r JOIN results_objects ro ON ro.results_object_id = r.results_object_id
          WHERE ro.project_id = $1 AND ro.module_id = $2
          GROUP BY r.indicator_id ORDER BY r.indicator_id`,
        [projectId, moduleId],
      );
      return { projectId, moduleId, runId, lastRun, indicators };
    });
    if (value === undefined) throw new NotFoundError("module run", runId);
    c.header("X-Cache", hit ? "HIT" : "MISS");
    return c.json(value as object);
  });
  return app;
}
