/**
 * The instance overview: heavy aggregates over the whole HMIS dataset that are fine a
 * few minutes old (served through the stale-while-revalidate memo).
 *
 * @module
 */
import type { Db } from "../db.ts";
import type { InstanceOverview } from "../wire.ts";

export type { InstanceOverview } from "../wire.ts";

/**
 * Computes the overview (three scans of `dataset_hmis`).
 *
 * @throws {DatabaseUnavailableError} If the database cannot be reached.
 */
export async function getInstanceOverview(db: Db): Promise<InstanceOverview> {
  const [{ latest, facilities }] = await db.query<{ latest: number | null; facilities: number }>(
    `SELECT (SELECT max(period_id) FROM dataset_hmis) AS latest,
            (SELECT count(*)::int FROM facilities) AS facilities`,
  );
  if (latest === null) {
    return {
      latestPeriod: null,
      facilities,
      reportingByMonth: [],
      completenessByLga: [],
      latestTotals: [],
    };
  }
  // The first of the last 12 periods (YYYYMM arithmetic through period_add_months).
  const [{ first }] = await db.query<{ first: number }>(
    "SELECT period_add_months($1::int, -11) AS first",
    [latest],
  );
  const reportingByMonth = await db.query<{ periodId: number; facilitiesReporting: number }>(
    `SELECT period_id AS "periodId", count(DISTINCT facility_id)::int AS "facilitiesReporting"
       FROM dataset_hmis WHERE period_id BETWEEN $1 AND $2
      GROUP BY period_id ORDER BY period_id`,
    [first, latest],
  );
  const completenessByLga = await db.query<
    { adminArea3: string; facilities: number; completeness: number }
  >(
    `WITH reported AS (
       SELECT DISTINCT facility_id, period_id FROM dataset_hmis WHERE period_id BETWEEN $1 AND $2
     )
     SELECT f.admin_area_3 AS "adminArea3", count(DISTINCT f.facility_id)::int AS facilities,
            round(count(r.period_id)::numeric / (count(DISTINCT f.facility_id) * 12), 4)::float8
              AS completeness
       FROM facilities f LEFT JOIN reported r ON r.facility_id = f.facility_id
      GROUP BY f.admin_area_3 ORDER BY f.admin_area_3`,
    [first, latest],
  );
  const latestTotals = await db.query<{ indicatorId: string; label: string; total: number }>(
    `SELECT d.indicator_id AS "indicatorId", i.label, sum(d.count)::float8 AS total
       FROM dataset_hmis d JOIN indicators i ON i.indicator_id = d.indicator_id
      WHERE d.period_id = $1 GROUP BY d.indicator_id, i.label ORDER BY d.indicator_id`,
    [latest],
  );
  return { latestPeriod: latest, facilities, reportingByMonth, completenessByLga, latestTotals };
}
