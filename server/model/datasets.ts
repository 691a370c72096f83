/**
 * The datasets (HMIS monthly counts, HFA assessment): versions and summaries.
 *
 * @module
 */

import type { Db } from "../db.ts";
import { ValidationError } from "./errors.ts";
import type { PeriodRange } from "./period.ts";

/** A dataset id. */
export type DatasetId = "hmis" | "hfa";

/**
 * The dataset's version: its import counter as a string ("0" before the first import). Every
 * import bumps it.
 *
 * @throws {ValidationError} If `datasetId` is not "hmis" or "hfa".
 */
export async function getDatasetVersion(db: Db, datasetId: DatasetId): Promise<string> {
  if (datasetId !== "hmis" && datasetId !== "hfa") {
    throw new ValidationError(
      `'datasetId' must be hmis or hfa (got "${String(datasetId)}")`,
      "datasetId",
    );
  }
  const rows = await db.query<{ version: number }>(
    "SELECT version FROM dataset_versions WHERE dataset_id = $1",
    [datasetId],
  );
  return String(rows[0]?.version ?? 0);
}

/** Options of {@linkcode getHmisDatasetSummary}. */
export interface HmisSummaryOptions {
  /** Only this indicator. */
  indicatorId?: string;
  /** Admin level of `byAdminArea` (2 state, 3 LGA, 4 ward). @default {3} */
  adminAreaLevel?: 2 | 3 | 4;
}

/** Summary of the HMIS dataset. Counts are sums of monthly counts. */
export interface HmisDatasetSummary {
  version: string;
  /** Rows in `dataset_hmis` (after the indicator filter). */
  rows: number;
  /** Facilities with at least one row. */
  facilities: number;
  periodRange: PeriodRange | null;
  /** Per indicator and period: total count and facilities reporting. */
  byIndicatorPeriod: {
    indicatorId: string;
    periodId: number;
    count: number;
    facilitiesReporting: number;
  }[];
  /** Per admin area and indicator over all periods. `parent` is the LGA for wards, else null. */
  byAdminArea: {
    adminArea: string;
    parent: string | null;
    indicatorId: string;
    count: number;
    facilitiesReporting: number;
  }[];
}

/**
 * Aggregates the whole HMIS dataset (a full scan: about 0.5-1 s for 1 M rows on PostgreSQL; the
 * server caches it by dataset version).
 *
 * @throws {ValidationError} If `adminAreaLevel` is not 2, 3 or 4.
 */
export async function getHmisDatasetSummary(
  db: Db,
  options: HmisSummaryOptions = {},
): Promise<HmisDatasetSummary> {
  const level = options.adminAreaLevel ?? 3;
  if (level !== 2 && level !== 3 && level !== 4) {
    throw new ValidationError(
      `'adminAreaLevel' must be 2, 3 or 4 (got ${String(level)})`,
      "adminAreaLevel",
    );
  }
  const area = `f.admin_area_${level}`;
  const parent = level === 4 ? "f.admin_area_3" : "NULL::text";
  const params = options.indicatorId === undefined ? [] : [options.indicatorId];
  const where = options.indicatorId === undefined ? "" : "WHERE h.indicator_id = $1";

  const version = await getDatasetVersion(db, "hmis");
  const byIndicatorPeriod = await db.query<HmisDatasetSummary["byIndicatorPeriod"][number]>(
    `SELECT h.indicator_id AS "indicatorId", h.period_id AS "periodId",
            sum(h.count)::float8 AS count, count(*)::int AS "facilitiesReporting"
       FROM dataset_hmis h ${where}
      GROUP BY 1, 2 ORDER BY 1, 2`,
    params,
  );
  const byAdminArea = await db.query<HmisDatasetSummary["byAdminArea"][number]>(
    `SELECT area AS "adminArea", parent, indicator_id AS "indicatorId",
            sum(count)::float8 AS count, count(*)::int AS "facilitiesReporting"
       FROM (SELECT ${area} AS area, ${parent} AS parent, h.indicator_id, h.facility_id,
                    sum(h.count) AS count
               FROM dataset_hmis h JOIN facilities f ON f.facility_id = h.facility_id
               ${where}
              GROUP BY 1, 2, 3, 4) per_facility
      GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    params,
  );
  const [totals] = await db.query<{ rows: number; facilities: number; min: number; max: number }>(
    `SELECT count(*)::int AS rows, count(DISTINCT facility_id)::int AS facilities,
            min(period_id) AS min, max(period_id) AS max
       FROM dataset_hmis h ${where}`,
    params,
  );
  return {
    version,
    rows: totals.rows,
    facilities: totals.facilities,
    periodRange: totals.min === null ? null : { min: totals.min, max: totals.max },
    byIndicatorPeriod,
    byAdminArea,
  };
}

/** Summary of the HFA dataset. */
export interface HfaDatasetSummary {
  version: string;
  /** Time points, sorted. */
  timePoints: string[];
  /** Per variable and time point: facilities assessed and the value's mean, min and max. */
  vars: {
    varName: string;
    timePoint: string;
    facilities: number;
    mean: number | null;
    min: number | null;
    max: number | null;
  }[];
}

/** Aggregates the HFA dataset per variable and time point. */
export async function getHfaDatasetSummary(db: Db): Promise<HfaDatasetSummary> {
  const version = await getDatasetVersion(db, "hfa");
  const vars = await db.query<HfaDatasetSummary["vars"][number]>(
    `SELECT var_name AS "varName", time_point AS "timePoint", count(*)::int AS facilities,
            avg(value)::float8 AS mean, min(value) AS min, max(value) AS max
       FROM dataset_hfa GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  const timePoints = [...new Set(vars.map((v) => v.timePoint))].sort();
  return { version, timePoints, vars };
}
