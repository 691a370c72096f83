/**
 * The sample project seeded by every load: one module, its results object, two metrics and
 * eight presentation objects. Kept as data so tests and docs can refer to it.
 *
 * @module
 */

import { DISAGGREGATION_COLUMNS } from "../model/fetch_config.ts";
import type { Facility } from "./grid3.ts";

/** Project id of the sample project. */
export const DEMO_PROJECT_ID = "demo";
/** Module id of the sample project's module. */
export const DEMO_MODULE_ID = "m001";
/** Results object of the sample module. */
export const DEMO_RESULTS_OBJECT_ID = "ro_m001_hmis";

/** A presentation object to seed. */
export interface DemoPresentationObject {
  poId: string;
  metricId: string;
  label: string;
  /** `{ fetch: FetchConfig, display: {...} }`. */
  config: Record<string, unknown>;
}

/** The sample project as rows to insert. */
export interface DemoProject {
  project: { projectId: string; label: string };
  module: { moduleId: string; label: string; params: Record<string, unknown> };
  resultsObject: { resultsObjectId: string; label: string };
  metrics: {
    metricId: string;
    label: string;
    valueProps: string[];
    disaggregationOptions: string[];
  }[];
  presentationObjects: DemoPresentationObject[];
}

/** The LGAs (admin_area_3) with the most facilities, most first (ties by name). */
function largestLgas(facilities: readonly Facility[], n: number): string[] {
  const counts = new Map<string, number>();
  for (const f of facilities) counts.set(f.adminArea3, (counts.get(f.adminArea3) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, n).map((
    [name],
  ) => name);
}

/**
 * Builds the sample project "demo" ("Kano demo") for the loaded facilities: the ward table is
 * filtered to the two largest LGAs present.
 */
export function demoProject(facilities: readonly Facility[]): DemoProject {
  const lgas = largestLgas(facilities, 2);
  const counts = "met_counts";
  const outliers = "met_outliers";
  const po = (
    poId: string,
    metricId: string,
    label: string,
    fetch: Record<string, unknown>,
    display: Record<string, unknown>,
  ): DemoPresentationObject => ({ poId, metricId, label, config: { fetch, display } });
  return {
    project: { projectId: DEMO_PROJECT_ID, label: "Kano demo" },
    module: {
      moduleId: DEMO_MODULE_ID,
      label: "HMIS coverage and outliers",
      params: { outlierMultiplier: 3, outlierMinCount: 10 },
    },
    resultsObject: {
      resultsObjectId: DEMO_RESULTS_OBJECT_ID,
      label: "HMIS counts with outlier adjustment",
    },
    metrics: [
      {
        metricId: counts,
        label: "Service volume (reported and outlier-adjusted)",
        valueProps: ["count", "count_adjusted"],
        disaggregationOptions: [...DISAGGREGATION_COLUMNS],
      },
      {
        metricId: outliers,
        label: "Outliers flagged",
        valueProps: ["outlier"],
        disaggregationOptions: [...DISAGGREGATION_COLUMNS],
      },
    ],
    presentationObjects: [
      po("po_anc_by_lga", counts, "ANC1 and ANC4 by LGA, last 12 months", {
        values: [{ prop: "count_adjusted", func: "SUM" }],
        groupBys: ["admin_area_3", "indicator_id"],
        filters: [{ col: "indicator_id", vals: ["anc1", "anc4"] }],
        periodFilter: { kind: "last_n_months", n: 12 },
      }, { type: "bar", x: "admin_area_3", series: "indicator_id" }),
      po("po_penta_trend", counts, "Penta1 and Penta3 by month, last 12 months", {
        values: [{ prop: "count_adjusted", func: "SUM" }],
        groupBys: ["period_id", "indicator_id"],
        filters: [{ col: "indicator_id", vals: ["penta1", "penta3"] }],
        periodFilter: { kind: "last_n_months", n: 12 },
      }, { type: "timeseries", x: "period_id", series: "indicator_id" }),
      po("po_indicators_2024", counts, "All indicators, reported vs adjusted, 2024", {
        values: [{ prop: "count", func: "SUM" }, { prop: "count_adjusted", func: "SUM" }],
        groupBys: ["indicator_id"],
        filters: [],
        periodFilter: { kind: "between", min: 202401, max: 202412 },
      }, { type: "bar", x: "indicator_id" }),
      po("po_deliveries_by_ward", counts, `Facility deliveries by ward (${lgas.join(", ")})`, {
        values: [{ prop: "count_adjusted", func: "SUM" }],
        groupBys: ["admin_area_4"],
        filters: [
          { col: "admin_area_3", vals: lgas },
          { col: "indicator_id", vals: ["delivery_facility"] },
        ],
      }, { type: "table" }),
      po("po_outliers_by_lga", outliers, "Outliers flagged by LGA and indicator", {
        values: [{ prop: "outlier", func: "SUM" }],
        groupBys: ["admin_area_3", "indicator_id"],
        filters: [],
      }, { type: "table" }),
      po("po_opd_level_ownership", counts, "OPD by facility level and ownership, last 12 months", {
        values: [{ prop: "count_adjusted", func: "SUM" }],
        groupBys: ["facility_level", "ownership"],
        filters: [{ col: "indicator_id", vals: ["opd_total"] }],
        periodFilter: { kind: "last_n_months", n: 12 },
      }, { type: "bar", x: "facility_level", series: "ownership" }),
      po("po_sba_avg_month", counts, "Average SBA per reporting facility, by month", {
        values: [{ prop: "count_adjusted", func: "AVG" }, { prop: "count", func: "MAX" }],
        groupBys: ["period_id"],
        filters: [{ col: "indicator_id", vals: ["sba"] }],
      }, { type: "timeseries", x: "period_id" }),
      po("po_anc1_reporting_by_lga", counts, "ANC1 facility-months reported by LGA", {
        values: [{ prop: "count", func: "COUNT" }],
        groupBys: ["admin_area_3"],
        filters: [{ col: "indicator_id", vals: ["anc1"] }],
      }, { type: "bar", x: "admin_area_3" }),
    ],
  };
}
