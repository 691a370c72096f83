/**
 * Dataset summaries (cached under `ds_hmis` and `ds_hfa`, versioned by the dataset's
 * import version) and the admin-area structure (in memory, one hour). An `indicatorId` that
 * names no indicator is a 404, before any cache key is made (`allowlists.ts`).
 *
 * @module
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { EntityAllowlists } from "../allowlists.ts";
import { envelope, type ServerCaches } from "../caches.ts";
import type { Db } from "../db.ts";
import { cachedRoute } from "../cached_route.ts";
import { since } from "../http.ts";
import type { VersionSource } from "../versions.ts";
import {
  getHfaDatasetSummary,
  getHmisDatasetSummary,
  getStructure,
  storableText,
} from "../model/mod.ts";

/** What the dataset routes need. */
export interface DatasetRoutesDeps {
  /**
   * The database of the cold computations (the aggregates a miss computes): `db` bounded
   * to `FILL_CONCURRENCY` statements at once (`bounded_db.ts`).
   */
  computeDb: Db;
  caches: ServerCaches;
  /** Entity allowlists (indicators). */
  allowlists: EntityAllowlists;
  /** Where versions come from (the version table, or a query per request). */
  versions: VersionSource;
}

/** Routes under `/api`: `/datasets/hmis/summary`, `/datasets/hfa/summary`, `/structure`. */
export function datasetRoutes(
  { computeDb, caches, allowlists, versions }: DatasetRoutesDeps,
): Hono {
  const app = new Hono();

  app.get(
    "/datasets/hmis/summary",
    cachedRoute({
      cache: caches.dsHmis,
      resolve: async (c) => {
        const indicatorText = c.req.query("indicatorId") || undefined;
        const indicatorId = indicatorText && storableText(indicatorText, "indicatorId");
        const levelText = c.req.query("level");
        const level = levelText === undefined ? undefined : Number(levelText);
        if (level !== undefined && level !== 2 && level !== 3 && level !== 4) {
          throw new HTTPException(400, { message: "'level' must be 2, 3 or 4" });
        }
        const version = await versions.datasetVersion("hmis");
        if (indicatorId !== undefined) await allowlists.checkIndicator(indicatorId, version);
        return {
          params: { indicatorId, level },
          version: { version },
          produce: () => getHmisDatasetSummary(computeDb, { indicatorId, adminAreaLevel: level }),
        };
      },
    }),
  );

  app.get(
    "/datasets/hfa/summary",
    cachedRoute({
      cache: caches.dsHfa,
      resolve: async () => ({
        params: {},
        version: { version: await versions.datasetVersion("hfa") },
        produce: () => getHfaDatasetSummary(computeDb),
      }),
    }),
  );

  app.get("/structure", async (c) => {
    const started = performance.now();
    const version = { version: await versions.structureVersion() };
    const result = await caches.structure.getOrSet(
      "structure",
      version,
      async () => envelope("structure", version, await getStructure(computeDb)),
    );
    c.header("Server-Timing", `db;dur=${since(started).toFixed(1)}`);
    return c.json(result.value.body as object);
  });

  return app;
}
