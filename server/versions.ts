/**
 * Version lookups: the one cheap indexed query each cached route runs before it reads the
 * cache, so a write (a module run, an edit, an import) flips the version and the next read
 * misses. Timestamps come back as ISO-8601 UTC strings with microseconds (`iso_ts`).
 *
 * @module
 */
import type { Db } from "./db.ts";
import { type DatasetId, getDatasetVersion } from "./model/mod.ts";

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

/** The structure's version: `structure_meta.version` as text, `"0"` before the first import. */
export async function structureVersion(db: Db): Promise<string> {
  const rows = await db.query<{ version: string }>(
    "SELECT coalesce(max(version), 0)::text AS version FROM structure_meta",
  );
  return rows[0]?.version ?? "0";
}

/**
 * Where the cached routes get their versions: the per-request queries above
 * ({@linkcode queryVersions}) or the in-process table pushed by Postgres
 * (`version_table.ts`), which answers the same thing without a query while its listener is
 * connected and loaded. Every method answers what its query would at that moment (an
 * `undefined` or absent id: no such entity, a 404).
 */
export interface VersionSource {
  /**
   * Where versions come from now, for `/healthz`: `query` (every call queries), or the
   * version table's state (`trusted`: from the table; `connecting`, `loading`: queried).
   */
  readonly state: string;
  /** Versions of one presentation object, or `undefined` when it does not exist. */
  poVersions(projectId: string, poId: string): Promise<PoVersions | undefined>;
  /** Versions of several presentation objects of a project, by id (absent ids are missing). */
  poVersionsMany(projectId: string, poIds: readonly string[]): Promise<Map<string, PoVersions>>;
  /** A metric's module's `last_run`, or `undefined` when the metric does not exist. */
  metricVersion(
    projectId: string,
    metricId: string,
  ): Promise<{ lastRun: string | null } | undefined>;
  /** A dataset's import version as text (`"0"` before the first import). */
  datasetVersion(datasetId: DatasetId): Promise<string>;
  /** The structure's import version as text (`"0"` before the first import). */
  structureVersion(): Promise<string>;
  /**
   * Resolves once every write this process committed before the call is visible to this
   * source (read-your-writes after a versioned write). Never throws.
   */
  settle(): Promise<void>;
}

/**
 * A {@linkcode VersionSource} that queries `db` on every call (one indexed query, a pool
 * connection each): what every cached route did before the version table, and the table's
 * fallback while its listener is not connected.
 */
export function queryVersions(db: Db): VersionSource {
  return {
    state: "query",
    poVersions: (projectId, poId) => poVersions(db, projectId, poId),
    poVersionsMany: (projectId, poIds) => poVersionsMany(db, projectId, poIds),
    metricVersion: (projectId, metricId) => metricVersion(db, projectId, metricId),
    datasetVersion: (datasetId) => getDatasetVersion(db, datasetId),
    structureVersion: () => structureVersion(db),
    settle: () => Promise.resolve(),
  };
}
