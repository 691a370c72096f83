/**
 * Projects, presentation objects, metrics and module runs. Cached under `po_detail`,
 * `po_items`, `metric_info` and `replicant_opts`. Every id is checked against the database
 * (its version lookup, or `allowlists.ts` for `replicateBy`) before a cache key is made.
 *
 * @module
 */
import { Hono } from "hono";
import { stream } from "hono/streaming";
import type { EntityAllowlists } from "../allowlists.ts";
import { envelope, FrozenValues, runIdOf, type ServerCaches } from "../caches.ts";
import { DatabaseUnavailableError, type Db } from "../db.ts";
import type { VersionedWrites } from "../events/mod.ts";
import { requireAdmin } from "../auth.ts";
import { cachedRoute } from "../cached_route.ts";
import { idParam, jsonObjectBody } from "../http.ts";
import {
  fetchPoItemsBody,
  getMetricInfo,
  getModuleLastRun,
  getPresentationObject,
  getReplicantOptions,
  listPresentationObjects,
  listProjects,
  type ModuleRun,
  NotFoundError,
  type PoDetail,
} from "../model/mod.ts";
import type { VersionSource } from "../versions.ts";
import type {
  ListAnswer,
  ModuleRunAnswer,
  ModuleRunLine,
  PoSummary,
  ProjectSummary,
} from "../wire.ts";

/** What the project routes need. */
export interface ProjectRoutesDeps {
  db: Db;
  /**
   * The database of the cold computations (the aggregates a miss computes): `db` bounded
   * to `FILL_CONCURRENCY` statements at once (`bounded_db.ts`).
   */
  computeDb: Db;
  caches: ServerCaches;
  /** Module runs and edits, each announced by its event. */
  writes: VersionedWrites;
  /** Entity allowlists (`replicateBy`). */
  allowlists: EntityAllowlists;
  /** Where versions come from (the version table, or a query per request). */
  versions: VersionSource;
}

/** The `po_items` params of a presentation object's detail. */
type ItemsParams = { projectId: string; resultsObjectId: string; fetch: unknown };

/**
 * The items params of a detail. A frozen detail (the L1's or a fill's: deeply frozen) gets
 * frozen params, kept by the items route per object version, so their hash is computed once
 * (`caches.ts` remembers the hashes of frozen params by identity) instead of re-serializing
 * the fetch config on every request.
 */
function itemsParamsOf(projectId: string, detail: PoDetail): ItemsParams {
  const params = { projectId, resultsObjectId: detail.resultsObjectId, fetch: detail.config.fetch };
  return Object.isFrozen(detail) ? Object.freeze(params) : params;
}

/** Routes under `/api/projects`. */
export function projectRoutes(
  { db, computeDb, caches, writes, allowlists, versions: source }: ProjectRoutesDeps,
): Hono {
  const app = new Hono();

  app.get(
    "/",
    async (c) => c.json({ items: await listProjects(db) } satisfies ListAnswer<ProjectSummary>),
  );

  app.get("/:projectId/presentation_objects", async (c) => {
    const projectId = idParam(c, "projectId");
    const items = await listPresentationObjects(db, projectId);
    return c.json({ items } satisfies ListAnswer<PoSummary>);
  });

  const loadDetail = async (projectId: string, poId: string): Promise<PoDetail> => {
    const detail = await getPresentationObject(db, projectId, poId);
    if (!detail) throw new NotFoundError("presentation object", poId);
    return detail;
  };
  // The same frozen params and versions for the same request: hashed once (`caches.ts`).
  // Ids are identifiers (`idParam`: no `/`), versions ISO timestamps.
  const detailParams = new FrozenValues<{ projectId: string; poId: string }>();
  const detailParamsOf = (projectId: string, poId: string) =>
    detailParams.get(`${projectId}/${poId}`, () => ({ projectId, poId }));
  const detailVersions = new FrozenValues<{ lastUpdated: string }>();
  const detailVersionOf = (lastUpdated: string) =>
    detailVersions.get(lastUpdated, () => ({ lastUpdated }));
  const lastRunVersions = new FrozenValues<{ lastRun: string | null }>();
  const lastRunVersionOf = (lastRun: string | null) =>
    lastRunVersions.get(lastRun === null ? "" : `=${lastRun}`, () => ({ lastRun }));

  // The detail and items params of each presentation object version whose detail came
  // deeply frozen (the L1's, or a fill's): the detail is a function of (project, object,
  // `last_updated`), so a hit on the items needs no second cache read for it. A detail that
  // is not frozen is not kept (the next request reads it again).
  const itemsOfDetail = new FrozenValues<{ detail: PoDetail; params: ItemsParams }>(4096);

  /** A presentation object's versions; a 404 when it does not exist. */
  const poVersionsOf = async (projectId: string, poId: string) => {
    const versions = await source.poVersions(projectId, poId);
    if (!versions) throw new NotFoundError("presentation object", poId);
    return versions;
  };

  app.get(
    "/:projectId/presentation_objects/:poId",
    cachedRoute({
      cache: caches.poDetail,
      resolve: async (c) => {
        const projectId = idParam(c, "projectId");
        const poId = idParam(c, "poId");
        const { lastUpdated } = await poVersionsOf(projectId, poId);
        return {
          params: detailParamsOf(projectId, poId),
          version: detailVersionOf(lastUpdated),
          produce: () => loadDetail(projectId, poId),
        };
      },
    }),
  );

  app.get(
    "/:projectId/presentation_objects/:poId/items",
    cachedRoute({
      cache: caches.poItems,
      resolve: async (c) => {
        const projectId = idParam(c, "projectId");
        const poId = idParam(c, "poId");
        const versions = await poVersionsOf(projectId, poId);
        const detailKey = `${projectId}/${poId}@${versions.lastUpdated}`;
        let items = itemsOfDetail.find(detailKey);
        if (items === undefined) {
          const detailParams = detailParamsOf(projectId, poId);
          const detailVersion = detailVersionOf(versions.lastUpdated);
          const { value } = await caches.poDetail.getOrSet(
            detailParams,
            detailVersion,
            async () => envelope(detailParams, detailVersion, await loadDetail(projectId, poId)),
          );
          const detail = value.body as PoDetail;
          const params = itemsParamsOf(projectId, detail);
          items = Object.isFrozen(detail)
            ? itemsOfDetail.get(detailKey, () => ({ detail, params }))
            : { detail, params };
        }
        const { detail, params } = items;
        return {
          params,
          version: lastRunVersionOf(versions.lastRun),
          produce: () => fetchPoItemsBody(computeDb, detail),
        };
      },
    }),
  );

  app.patch("/:projectId/presentation_objects/:poId", requireAdmin(), async (c) => {
    const projectId = idParam(c, "projectId");
    const poId = idParam(c, "poId");
    const body = await jsonObjectBody(c);
    const updated = await writes.updatePresentationObject(projectId, poId, {
      label: body.label as string | undefined,
      config: body.config,
    });
    if (!updated) throw new NotFoundError("presentation object", poId);
    return c.json(updated);
  });

  /**
   * A module run. With `Accept: application/x-ndjson` the answer streams one JSON line per
   * step (`{ "progress": { step, done, total, elapsedMs } }`), then `{ "run": {...} }` or
   * `{ "error", "message" }`: the web client shows an administrator how far a run is.
   */
  app.post("/:projectId/modules/:moduleId/run", requireAdmin(), async (c) => {
    const projectId = idParam(c, "projectId");
    const moduleId = idParam(c, "moduleId");
    const finish = async (run: ModuleRun): Promise<ModuleRunAnswer> => {
      // The run is finished and immutable: pre-warm its existence (its summary fills on read).
      await caches.moduleRuns.markExists(`${projectId}.${moduleId}.${runIdOf(run.lastRun)}`);
      return { ...run, runId: runIdOf(run.lastRun) };
    };
    if (!(c.req.header("accept") ?? "").includes("application/x-ndjson")) {
      return c.json(await finish(await writes.runModule(projectId, moduleId)));
    }
    await getModuleLastRun(db, projectId, moduleId); // a 404 before the stream starts
    c.header("Content-Type", "application/x-ndjson; charset=utf-8");
    c.header("Cache-Control", "no-store");
    return stream(c, async (out) => {
      const line = (value: ModuleRunLine) => out.write(JSON.stringify(value) + "\n");
      let writing = Promise.resolve<unknown>(undefined);
      try {
        const run = await writes.runModule(projectId, moduleId, {
          onProgress: (progress) => writing = writing.then(() => line({ progress })),
        });
        await writing;
        await line({ run: await finish(run) });
      } catch (error) {
        await writing.catch(() => {});
        const unavailable = error instanceof DatabaseUnavailableError;
        await line({
          error: unavailable ? "database_unavailable" : "run_failed",
          message: unavailable
            ? "The database is unavailable; nothing changed"
            : `The run failed: ${String((error as Error)?.message ?? error)}`,
        });
      }
    });
  });

  /** A metric's version; a 404 when it does not exist. */
  const metricVersionOf = async (projectId: string, metricId: string) => {
    const version = await source.metricVersion(projectId, metricId);
    if (!version) throw new NotFoundError("metric", metricId);
    return version;
  };

  app.get(
    "/:projectId/metrics/:metricId/info",
    cachedRoute({
      cache: caches.metricInfo,
      resolve: async (c) => {
        const projectId = idParam(c, "projectId");
        const metricId = idParam(c, "metricId");
        return {
          params: { projectId, metricId },
          version: await metricVersionOf(projectId, metricId),
          produce: () => getMetricInfo(computeDb, projectId, metricId),
        };
      },
    }),
  );

  app.get(
    "/:projectId/metrics/:metricId/replicant_options",
    cachedRoute({
      cache: caches.replicantOpts,
      resolve: async (c) => {
        const projectId = idParam(c, "projectId");
        const metricId = idParam(c, "metricId");
        const replicateBy = c.req.query("replicateBy") ?? "indicator_id";
        const version = await metricVersionOf(projectId, metricId);
        await allowlists.checkReplicateBy(projectId, metricId, version.lastRun, replicateBy);
        return {
          params: { projectId, metricId, replicateBy },
          version,
          produce: () => getReplicantOptions(computeDb, projectId, metricId, replicateBy),
        };
      },
    }),
  );

  return app;
}
