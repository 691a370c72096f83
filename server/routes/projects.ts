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
import { envelope, runIdOf, type ServerCaches } from "../caches.ts";
import { DatabaseUnavailableError, type Db } from "../db.ts";
import type { VersionedWrites } from "../events/mod.ts";
import { requireAdmin } from "../auth.ts";
import { idParam, jsonObjectBody, serveCached, since } from "../http.ts";
import {
  fetchPoItems,
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
  caches: ServerCaches;
  /** Module runs and edits, each announced by its event. */
  writes: VersionedWrites;
  /** Entity allowlists (`replicateBy`). */
  allowlists: EntityAllowlists;
  /** Where versions come from (the version table, or a query per request). */
  versions: VersionSource;
}

/** Routes under `/api/projects`. */
export function projectRoutes(
  { db, caches, writes, allowlists, versions: source }: ProjectRoutesDeps,
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

  app.get("/:projectId/presentation_objects/:poId", async (c) => {
    const projectId = idParam(c, "projectId");
    const poId = idParam(c, "poId");
    const started = performance.now();
    const versions = await source.poVersions(projectId, poId);
    if (!versions) throw new NotFoundError("presentation object", poId);
    return serveCached(
      c,
      caches.poDetail,
      { projectId, poId },
      { lastUpdated: versions.lastUpdated },
      () => loadDetail(projectId, poId),
      since(started),
    );
  });

  app.get("/:projectId/presentation_objects/:poId/items", async (c) => {
    const projectId = idParam(c, "projectId");
    const poId = idParam(c, "poId");
    const started = performance.now();
    const versions = await source.poVersions(projectId, poId);
    if (!versions) throw new NotFoundError("presentation object", poId);
    const detailParams = { projectId, poId };
    const detailVersion = { lastUpdated: versions.lastUpdated };
    const { value } = await caches.poDetail.getOrSet(
      detailParams,
      detailVersion,
      async () => envelope(detailParams, detailVersion, await loadDetail(projectId, poId)),
    );
    const detail = value.body as PoDetail;
    return serveCached(
      c,
      caches.poItems,
      { projectId, resultsObjectId: detail.resultsObjectId, fetch: detail.config.fetch },
      { lastRun: versions.lastRun },
      () => fetchPoItems(db, detail),
      since(started),
    );
  });

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

  app.get("/:projectId/metrics/:metricId/info", async (c) => {
    const projectId = idParam(c, "projectId");
    const metricId = idParam(c, "metricId");
    const started = performance.now();
    const version = await source.metricVersion(projectId, metricId);
    if (!version) throw new NotFoundError("metric", metricId);
    return serveCached(
      c,
      caches.metricInfo,
      { projectId, metricId },
      version,
      () => getMetricInfo(db, projectId, metricId),
      since(started),
    );
  });

  app.get("/:projectId/metrics/:metricId/replicant_options", async (c) => {
    const projectId = idParam(c, "projectId");
    const metricId = idParam(c, "metricId");
    const replicateBy = c.req.query("replicateBy") ?? "indicator_id";
    const started = performance.now();
    const version = await source.metricVersion(projectId, metricId);
    if (!version) throw new NotFoundError("metric", metricId);
    await allowlists.checkReplicateBy(projectId, metricId, version.lastRun, replicateBy);
    return serveCached(
      c,
      caches.replicantOpts,
      { projectId, metricId, replicateBy },
      version,
      () => getReplicantOptions(db, projectId, metricId, replicateBy),
      since(started),
    );
  });

  return app;
}
