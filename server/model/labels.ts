/**
 * The label dictionary: what every identifier the API returns is called for a person, so a
 * client never shows a raw column id (`admin_area_3`, `count_adjusted`), indicator id
 * (`anc1`), aggregate (`AVG`) or period (`202501`).
 *
 * Column and measure names are fixed here (they follow the allowlists of
 * `fetch_config.ts`); indicator labels and the periods come from the loaded dataset.
 *
 * @module
 */

import type { LabelsWire, MeasureLabel } from "../wire.ts";
import type { Db } from "../db.ts";
import {
  AGG_FUNCS,
  type AggFunc,
  DISAGGREGATION_COLUMNS,
  type DisaggregationColumn,
  VALUE_PROPS,
  type ValueProp,
} from "./fetch_config.ts";
import { periodAddMonths } from "./period.ts";

export type { MeasureLabel, NumberFormat } from "../wire.ts";

/** What {@linkcode getLabels} returns: the wire shape, keyed by this model's names. */
export type Labels = LabelsWire<DisaggregationColumn, "1" | "2" | "3" | "4", ValueProp, AggFunc>;

/** Names of the group columns. Admin levels: Nigeria > state > LGA > ward. */
export const COLUMN_LABELS: Record<DisaggregationColumn, string> = {
  admin_area_2: "State",
  admin_area_3: "LGA",
  admin_area_4: "Ward",
  facility_id: "Facility",
  indicator_id: "Indicator",
  period_id: "Month",
  facility_level: "Facility level",
  ownership: "Ownership",
};

const VALUE_LABELS: Labels["values"] = {
  count: { label: "Reported count", description: "services reported by facilities" },
  count_adjusted: {
    label: "Adjusted count",
    description: "reported count, outliers replaced by the facility's median",
  },
  outlier: { label: "Outliers", description: "facility-months flagged as outliers" },
};

const AGGREGATE_LABELS: Labels["aggregates"] = {
  SUM: "Total",
  AVG: "Average",
  COUNT: "Number of",
  MIN: "Minimum",
  MAX: "Maximum",
};

/** The measure `func(prop)`: each row aggregated is one facility-month of one indicator. */
export function measureLabel(func: AggFunc, prop: ValueProp): MeasureLabel {
  if (func === "COUNT") {
    return { label: "Facility-months reported", unit: "facility-months", format: "integer" };
  }
  if (prop === "outlier") {
    if (func === "SUM") {
      return { label: "Outliers flagged", unit: "facility-months", format: "integer" };
    }
    if (func === "AVG") {
      return { label: "Average outlier share", unit: "% of facility-months", format: "percent" };
    }
    return { label: `${AGGREGATE_LABELS[func]} outlier flag`, unit: "0 or 1", format: "integer" };
  }
  const value = VALUE_LABELS[prop].label.toLowerCase();
  switch (func) {
    case "SUM":
      return { label: `Total ${value}`, unit: "services", format: "integer" };
    case "AVG":
      return {
        label: `Average ${value}`,
        unit: "services per facility-month",
        format: "decimal",
      };
    case "MIN":
    case "MAX":
      return {
        label: `${AGGREGATE_LABELS[func]} ${value}`,
        unit: "services in one facility-month",
        format: "integer",
      };
  }
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * A YYYYMM period as a calendar month, `"Jan 2025"` (no time zone is involved).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(periodLabel(202501), "Jan 2025");
 * ```
 */
export function periodLabel(periodId: number): string {
  return `${MONTHS[(periodId % 100) - 1]} ${Math.floor(periodId / 100)}`;
}

/**
 * The label dictionary of the loaded data (two small queries: the indicators, the HMIS
 * dataset's period range).
 *
 * @throws {DatabaseUnavailableError} If the database cannot be reached.
 */
export async function getLabels(db: Db, version: string): Promise<Labels> {
  const indicators = await db.query<{ id: string; label: string }>(
    `SELECT indicator_id AS id, label FROM indicators ORDER BY sort_order, indicator_id`,
  );
  // One probe per indicator on (indicator_id, period_id): no scan of the dataset.
  const [range] = await db.query<{ min: number | null; max: number | null }>(
    `SELECT min(p.min) AS min, max(p.max) AS max
       FROM indicators i
       CROSS JOIN LATERAL (
         SELECT (SELECT period_id FROM dataset_hmis d WHERE d.indicator_id = i.indicator_id
                  ORDER BY period_id LIMIT 1) AS min,
                (SELECT period_id FROM dataset_hmis d WHERE d.indicator_id = i.indicator_id
                  ORDER BY period_id DESC LIMIT 1) AS max) p`,
  );
  const periods: Record<string, string> = {};
  if (range?.min != null && range.max != null) {
    for (let p = range.min; p <= range.max; p = periodAddMonths(p, 1)) {
      periods[String(p)] = periodLabel(p);
    }
  }
  const measures: Record<string, MeasureLabel> = {};
  for (const func of AGG_FUNCS) {
    for (const prop of VALUE_PROPS) measures[`${func}(${prop})`] = measureLabel(func, prop);
  }
  return {
    version,
    columns: Object.fromEntries(DISAGGREGATION_COLUMNS.map((c) => [c, COLUMN_LABELS[c]])) as Record<
      DisaggregationColumn,
      string
    >,
    adminLevels: { "1": "Country", "2": "State", "3": "LGA", "4": "Ward" },
    values: VALUE_LABELS,
    aggregates: AGGREGATE_LABELS,
    measures,
    indicators: Object.fromEntries(indicators.map((i) => [i.id, i.label])),
    periods,
  };
}
