/**
 * Modules: computations that turn a dataset into results objects.
 *
 * @module
 */

import type { Db } from "../db.ts";
import { NotFoundError } from "./errors.ts";
import type { ModuleRun, ModuleRunProgress } from "../wire.ts";

/**
 * When a module last ran: the version of everything derived from its results (items, metric
 * info, replicant options). One primary-key lookup.
 *
 * @returns ISO-8601 UTC with microseconds (e.g. "2025-01-31T10:00:00.123456Z"), or null when the
 *   module has not run since the last data load.
 * @throws {NotFoundError} If the module does not exist.
 */
export async function getModuleLastRun(
  db: Db,
  projectId: string,
  moduleId: string,
): Promise<string | null> {
  const rows = await db.query<{ lastRun: string | null }>(
    `SELECT iso_ts(last_run) AS "lastRun" FROM modules WHERE project_id = $1 AND module_id = $2`,
    [projectId, moduleId],
  );
  if (rows.length === 0) throw new NotFoundError("module", `${projectId}/${moduleId}`);
  return rows[0].lastRun;
}

export type { ModuleRun, ModuleRunProgress } from "../wire.ts";

/** Options of {@linkcode runModule}. */
export interface RunModuleOptions {
  /** Called at the start of each step (a throw is ignored). */
  onProgress?: (progress: ModuleRunProgress) => void;
}

/** Steps per results object: compute, index, swap in, analyze. */
const STEPS_PER_RESULTS_OBJECT = 4;

/**
 * Drops results partitions whose results object no longer exists (e.g. after a project was
 * deleted). Call inside a transaction.
 *
 * @returns How many tables were dropped.
 */
export async function dropOrphanResultsPartitions(db: Db): Promise<number> {
  const orphans = await db.query<{ resultsObjectId: string; ident: string }>(
    `SELECT p.results_object_id AS "resultsObjectId", format('%I', p.table_name) AS ident
       FROM results_partitions p
      WHERE NOT EXISTS (SELECT 1 FROM results_objects ro
                         WHERE ro.results_object_id = p.results_object_id)`,
  );
  for (const orphan of orphans) {
    await db.exec(`DROP TABLE IF EXISTS ${orphan.ident}`);
    await db.query("DELETE FROM results_partitions WHERE results_object_id = $1", [
      orphan.resultsObjectId,
    ]);
  }
  return orphans.length;
}

/**
 * Recomputes a module's results objects from `dataset_hmis` in one transaction, then sets
 * `last_run = clock_timestamp()`.
 *
 * The computation (HMIS outliers): per facility and indicator, the median monthly count `m`
 * over all periods; a value is an outlier when `count > outlierMultiplier × m` and
 * `count >= outlierMinCount` (module params, default 3 and 10); `count_adjusted` is `m` for
 * outliers and `count` otherwise. Admin areas are copied from the facility.
 *
 * Each results object's rows live in their own partition of `results_hmis`: a new table is
 * filled without indexes, indexed in bulk, and swapped for the old one at the end, so readers
 * are blocked only for the swap.
 *
 * `options.onProgress` hears each step as it starts (plain words, steps done and in all).
 *
 * @throws {NotFoundError} If the module does not exist.
 * @throws {DatabaseUnavailableError} If the database cannot be reached (nothing changes then).
 */
export async function runModule(
  db: Db,
  projectId: string,
  moduleId: string,
  options: RunModuleOptions = {},
): Promise<ModuleRun> {
  const started = performance.now();
  let total = 2;
  const progress = (step: string, done: number) => {
    try {
      options.onProgress?.({
        step,
        done,
        total,
        elapsedMs: Math.round(performance.now() - started),
      });
    } catch {
      // a listener's failure is not the run's
    }
  };
  progress("Waiting for other runs of this module", 0);
  return await db.transaction(async (tx) => {
    const modules = await tx.query<{ params: Record<string, unknown> }>(
      `SELECT params FROM modules WHERE project_id = $1 AND module_id = $2 FOR UPDATE`,
      [projectId, moduleId],
    );
    if (modules.length === 0) throw new NotFoundError("module", `${projectId}/${moduleId}`);
    const params = modules[0].params ?? {};
    const multiplier = typeof params.outlierMultiplier === "number" ? params.outlierMultiplier : 3;
    const minCount = typeof params.outlierMinCount === "number" ? params.outlierMinCount : 10;
    await dropOrphanResultsPartitions(tx);

    const resultsObjects = await tx.query<{ id: string }>(
      `SELECT results_object_id AS id FROM results_objects
        WHERE project_id = $1 AND module_id = $2 ORDER BY 1`,
      [projectId, moduleId],
    );
    total = 2 + resultsObjects.length * STEPS_PER_RESULTS_OBJECT;
    let rows = 0;
    for (const [index, { id }] of resultsObjects.entries()) {
      const base = 1 + index * STEPS_PER_RESULTS_OBJECT;
      const of = resultsObjects.length > 1 ? ` (${index + 1} of ${resultsObjects.length})` : "";
      progress(`Computing medians and outliers${of}`, base);
      const [ddl] = await tx.query<
        { table: string; ident: string; create: string; index: string; attach: string }
      >(
        `SELECT t.name AS table, format('%I', t.name) AS ident,
                results_hmis_create_ddl(t.name) AS create,
                results_hmis_index_ddl(t.name, $1) AS index,
                results_hmis_attach_ddl(t.name, $1) AS attach
           FROM (SELECT 'results_hmis_' || nextval('results_partition_seq') AS name) t`,
        [id],
      );
      await tx.exec(ddl.create);
      await tx.query(
        `WITH medians AS (
           SELECT facility_id, indicator_id,
                  percentile_disc(0.5) WITHIN GROUP (ORDER BY count) AS median
             FROM dataset_hmis
            GROUP BY facility_id, indicator_id)
         INSERT INTO ${ddl.ident} (results_object_id, facility_id, admin_area_2, admin_area_3,
                                   admin_area_4, indicator_id, period_id, count, count_adjusted,
                                   outlier)
         SELECT $1, h.facility_id, f.admin_area_2, f.admin_area_3, f.admin_area_4,
                h.indicator_id, h.period_id, h.count,
                CASE WHEN o.is_outlier THEN m.median ELSE h.count END,
                CASE WHEN o.is_outlier THEN 1 ELSE 0 END
           FROM dataset_hmis h
           JOIN facilities f ON f.facility_id = h.facility_id
           JOIN medians m ON m.facility_id = h.facility_id AND m.indicator_id = h.indicator_id
           CROSS JOIN LATERAL (
             SELECT h.count > $2::float8 * m.median AND h.count >= $3::int AS is_outlier) o`,
        [id, multiplier, minCount],
      );
      const [{ n }] = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${ddl.ident}`);
      rows += n;
      progress(`Indexing ${n.toLocaleString("en")} result rows${of}`, base + 1);
      await tx.exec(ddl.index);
      const old = await tx.query<{ ident: string }>(
        `SELECT format('%I', table_name) AS ident FROM results_partitions
          WHERE results_object_id = $1`,
        [id],
      );
      progress(`Replacing the previous results${of}`, base + 2);
      if (old.length > 0) await tx.exec(`DROP TABLE IF EXISTS ${old[0].ident}`);
      await tx.exec(ddl.attach);
      await tx.query(
        `INSERT INTO results_partitions (results_object_id, table_name) VALUES ($1, $2)
         ON CONFLICT (results_object_id) DO UPDATE SET table_name = excluded.table_name`,
        [id, ddl.table],
      );
      progress(`Updating statistics${of}`, base + 3);
      await tx.exec(`ANALYZE ${ddl.ident}`);
    }
    progress("Saving the run", total - 1);
    const [{ lastRun }] = await tx.query<{ lastRun: string }>(
      `UPDATE modules SET last_run = clock_timestamp()
        WHERE project_id = $1 AND module_id = $2
        RETURNING iso_ts(last_run) AS "lastRun"`,
      [projectId, moduleId],
    );
    return { lastRun, rows, ms: Math.round(performance.now() - started) };
  });
}
