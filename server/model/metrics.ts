/**
 * Metrics: what a results object offers to presentation objects (value props, disaggregations),
 * described from the actual results.
 *
 * @module
 */

import type { Db } from "../db.ts";
import { NotFoundError, ValidationError } from "./errors.ts";
import { DISAGGREGATION_COLUMNS, type DisaggregationColumn } from "./fetch_config.ts";
import type { PeriodRange } from "./period.ts";

/** A disaggregation of a metric and how many distinct values the results have for it. */
export interface DisaggregationOption {
  col: DisaggregationColumn;
  /** Distinct values present in the results; 0 means no data. Wards count per LGA. */
  valueCount: number;
}

/** What a metric offers. */
export interface MetricInfo {
  metricId: string;
  label: string;
  resultsObjectId: string;
  moduleId: string;
  /** Props that can be aggregated, e.g. ["count", "count_adjusted"]. */
  valueProps: string[];
  /** The metric's disaggregations, in its configured order, with value counts. */
  disaggregationOptions: DisaggregationOption[];
  /** First and last period in the results (YYYYMM), null when there are no results. */
  periodRange: PeriodRange | null;
}

/** A distinct value of a column in the results. */
export interface ReplicantOption {
  /** The value as stored (a number for `period_id`). */
  value: string | number;
  /** Display label: indicator label, facility name, "Ward (LGA)", "Dec 2025", or the value. */
  label: string;
  /** For wards: the LGA (ward names repeat across LGAs). */
  parent?: string;
}

interface MetricRow {
  metricId: string;
  label: string;
  resultsObjectId: string;
  moduleId: string;
  valueProps: string[];
  disaggregationOptions: string[];
}

async function getMetric(db: Db, projectId: string, metricId: string): Promise<MetricRow> {
  const rows = await db.query<MetricRow>(
    `SELECT m.metric_id AS "metricId", m.label, m.results_object_id AS "resultsObjectId",
            ro.module_id AS "moduleId", m.value_props AS "valueProps",
            m.disaggregation_options AS "disaggregationOptions"
       FROM metrics m JOIN results_objects ro ON ro.results_object_id = m.results_object_id
      WHERE m.project_id = $1 AND m.metric_id = $2`,
    [projectId, metricId],
  );
  if (rows.length === 0) throw new NotFoundError("metric", `${projectId}/${metricId}`);
  return rows[0];
}

/**
 * `JOIN LATERAL` that keeps a row when results object `$1` has a result matching `cond`. The
 * `LIMIT 1` keeps PostgreSQL from turning the probe into a semi-join over the whole partition:
 * each candidate costs one index probe.
 */
const HAS_RESULT = (cond: string) =>
  `JOIN LATERAL (SELECT 1 FROM results_hmis r
                  WHERE r.results_object_id = $1 AND ${cond} LIMIT 1) hit ON true`;

/** Same, for a facility attribute: some facility with `cond` has a result. */
const HAS_FACILITY_RESULT = (cond: string) =>
  `JOIN LATERAL (SELECT 1 FROM facilities f
                  ${HAS_RESULT("r.facility_id = f.facility_id")}
                  WHERE ${cond} LIMIT 1) fhit ON true`;

/**
 * SQL listing the distinct values of `col` present in the results of results object `$1`, as
 * `(value, label, parent)`. Candidates come from the small dimension tables; each is checked with
 * an index probe instead of scanning the results.
 */
const DISTINCT_VALUES_SQL: Record<DisaggregationColumn, string> = {
  admin_area_2: `SELECT a.v AS value, a.v AS label, NULL::text AS parent
      FROM (SELECT DISTINCT admin_area_2 AS v FROM admin_areas_2) a
      JOIN LATERAL (SELECT 1 FROM admin_areas_3 a3
                     ${HAS_RESULT("r.admin_area_3 = a3.admin_area_3 AND r.admin_area_2 = a.v")}
                     WHERE a3.admin_area_2 = a.v LIMIT 1) ahit ON true
     ORDER BY 1`,
  admin_area_3: `SELECT a.v AS value, a.v AS label, NULL::text AS parent
      FROM (SELECT DISTINCT admin_area_3 AS v FROM admin_areas_3) a
      ${HAS_RESULT("r.admin_area_3 = a.v")}
     ORDER BY 1`,
  admin_area_4:
    `SELECT a.admin_area_4 AS value, a.admin_area_4 || ' (' || a.admin_area_3 || ')' AS label,
           a.admin_area_3 AS parent
      FROM (SELECT DISTINCT admin_area_3, admin_area_4 FROM admin_areas_4) a
      ${HAS_RESULT("r.admin_area_3 = a.admin_area_3 AND r.admin_area_4 = a.admin_area_4")}
     ORDER BY 1, 3`,
  facility_id: `SELECT f0.facility_id AS value, f0.facility_name AS label, NULL::text AS parent
      FROM facilities f0
      ${HAS_RESULT("r.facility_id = f0.facility_id")}
     ORDER BY 2, 1`,
  indicator_id: `SELECT i.indicator_id AS value, i.label, NULL::text AS parent
      FROM indicators i
      ${HAS_RESULT("r.indicator_id = i.indicator_id")}
     ORDER BY i.sort_order`,
  period_id: `WITH RECURSIVE p AS (
       (SELECT period_id FROM results_hmis WHERE results_object_id = $1
         ORDER BY period_id LIMIT 1)
       UNION ALL
       SELECT (SELECT r.period_id FROM results_hmis r
                WHERE r.results_object_id = $1 AND r.period_id > p.period_id
                ORDER BY r.period_id LIMIT 1)
         FROM p WHERE p.period_id IS NOT NULL)
     SELECT period_id AS value,
            to_char(make_date(period_id / 100, period_id % 100, 1), 'Mon YYYY') AS label,
            NULL::text AS parent
       FROM p WHERE period_id IS NOT NULL ORDER BY 1`,
  facility_level: `SELECT d.v AS value, d.v AS label, NULL::text AS parent
      FROM (SELECT DISTINCT facility_level AS v FROM facilities) d
      ${HAS_FACILITY_RESULT("f.facility_level = d.v")}
     ORDER BY 1`,
  ownership: `SELECT d.v AS value, d.v AS label, NULL::text AS parent
      FROM (SELECT DISTINCT ownership AS v FROM facilities) d
      ${HAS_FACILITY_RESULT("f.ownership = d.v")}
     ORDER BY 1`,
};

function allowedColumn(col: string): col is DisaggregationColumn {
  return (DISAGGREGATION_COLUMNS as readonly string[]).includes(col);
}

/**
 * Describes a metric from its results: the period range and, for each of its disaggregations,
 * how many distinct values have data. One query for the metric, one over the results (index
 * probes, no full scan).
 *
 * @throws {NotFoundError} If the metric does not exist in the project.
 */
export async function getMetricInfo(
  db: Db,
  projectId: string,
  metricId: string,
): Promise<MetricInfo> {
  const metric = await getMetric(db, projectId, metricId);
  const cols = metric.disaggregationOptions.filter(allowedColumn);
  const counts = cols.map((col, i) =>
    `(SELECT count(*)::int FROM (${DISTINCT_VALUES_SQL[col]}) d${i}) AS "${col}"`
  );
  const [row] = await db.query<Record<string, number | null>>(
    `SELECT (SELECT min(period_id) FROM results_hmis WHERE results_object_id = $1) AS "min",
            (SELECT max(period_id) FROM results_hmis WHERE results_object_id = $1) AS "max"
            ${counts.map((c) => `, ${c}`).join("\n")}`,
    [metric.resultsObjectId],
  );
  return {
    metricId: metric.metricId,
    label: metric.label,
    resultsObjectId: metric.resultsObjectId,
    moduleId: metric.moduleId,
    valueProps: metric.valueProps,
    disaggregationOptions: cols.map((col) => ({ col, valueCount: row[col] ?? 0 })),
    periodRange: row.min === null || row.max === null ? null : { min: row.min, max: row.max },
  };
}

/**
 * The distinct values of one column present in a metric's results, to replicate a
 * presentation object over (e.g. one chart per indicator).
 *
 * @param replicateBy A column from the metric's disaggregation options.
 * @returns Values with labels, in display order (indicators in their configured order).
 * @throws {ValidationError} If `replicateBy` is not an allowlisted column of the metric.
 * @throws {NotFoundError} If the metric does not exist in the project.
 */
export async function getReplicantOptions(
  db: Db,
  projectId: string,
  metricId: string,
  replicateBy: string,
): Promise<ReplicantOption[]> {
  if (!allowedColumn(replicateBy)) {
    throw new ValidationError(
      `'replicateBy' must be one of ${DISAGGREGATION_COLUMNS.join(", ")} (got "${
        String(replicateBy).slice(0, 60)
      }")`,
      "replicateBy",
    );
  }
  const metric = await getMetric(db, projectId, metricId);
  if (!metric.disaggregationOptions.includes(replicateBy)) {
    throw new ValidationError(
      `Metric '${metricId}' cannot be replicated by '${replicateBy}' (options: ${
        metric.disaggregationOptions.join(", ")
      })`,
      "replicateBy",
    );
  }
  const rows = await db.query<{ value: string | number; label: string; parent: string | null }>(
    DISTINCT_VALUES_SQL[replicateBy],
    [metric.resultsObjectId],
  );
  return rows.map((r) =>
    r.parent === null
      ? { value: r.value, label: r.label }
      : { value: r.value, label: r.label, parent: r.parent }
  );
}
