/**
 * Version lookups: the one cheap indexed query each cached route runs before it reads the
 * cache, so a write (a module run, an edit, an import) flips the version and the next read
 * misses. Timestamps come back as ISO-8601 UTC strings with microseconds (`iso_ts`).
 *
 * @module
 */
import type { Db } from "./db.ts";

/** The versions a presentation object's routes depend on. */
export interface PoVersions {
  /** The presentation object's `last_updated`: the version of `po_detail`. */
  lastUpdated: string;
  /** Its module's `last_run` (null before the first run): the version of `po_items`. */
  lastRun: string | null;
}

/** Versions of one presentation object, or `undefined` when it does not exist. */
export async function poVersions(
  db: Db,
  projectId: string,
  poId: string,
): Promise<PoVersions | undefined> {
  return (await poVersionsMany(db, projectId, [poId])).get(poId);
}

/** The `last_run` of a metric's module (the version of `metric_info` and `replicant_opts`). */
export async function metricVersion(
  db: Db,
  projectId: string,
  metricId: string,
): Promise<{ lastRun: string | null } | undefined> {
  const rows = await db.query<{ lastRun: string | null }>(
    `SELECT iso_ts(m.last_run) AS "lastRun"
       FROM metrics me
       JOIN results_objects ro ON ro.results_object_id = me.results_object_id
       JOIN modules m ON m.project_id = ro.project_id AND m.module_id = ro.module_id
      WHERE me.project_id = $1 AND me.metric_id = $2`,
    [projectId, metricId],
  );
  return rows[0];
}

/** Versions of several presentation objects of a project, by id (absent ids are missing). */
export async function poVersionsMany(
  db: Db,
  projectId: string,
  poIds: readonly string[],
): Promise<Map<string, PoVersions>> {
  const rows = await db.query<PoVersions & { poId: string }>(
    `SELECT po.po_id AS "poId", iso_ts(po.last_updated) AS "lastUpdated", iso_ts(m.last_run) AS "lastRun"
       FROM presentation_objects po
       JOIN metrics me ON me.metric_id = po.metric_id
       JOIN results_objects ro ON ro.results_object_id = me.results_object_id
       JOIN modules m ON m.project_id = ro.project_id AND m.module_id = ro.module_id
      WHERE po.project_id = $1 AND po.po_id = ANY($2::text[])`,
    [projectId, poIds],
  );
  return new Map(rows.map(({ poId, ...versions }) => [poId, versions]));
}
