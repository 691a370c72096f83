/**
 * Wire types: the JSON shapes the server sends that the web client reads, defined once. This
 * module is types only and imports nothing, so the client (`client/src/`) imports it as it
 * is and a change of shape is a type error on both sides.
 *
 * @module
 */

/** How a number of a measure is written: a count, a decimal, or a share (0 to 1) as a percentage. */
export type NumberFormat = "integer" | "decimal" | "percent";

/** One measure: an aggregate over a value column. */
export interface MeasureLabel {
  /** e.g. "Average adjusted count". */
  label: string;
  /** What one unit is, e.g. "services per facility-month"; the axis title's parenthesis. */
  unit: string;
  /** How to write its numbers. */
  format: NumberFormat;
}

/**
 * `GET /api/labels`: the label dictionary. The key parameters narrow the records on the
 * server (its column, value and aggregate names); the client reads them keyed by any string.
 */
export interface LabelsWire<
  Column extends string = string,
  Level extends string = string,
  Prop extends string = string,
  Agg extends string = string,
> {
  /** The HMIS dataset version the labels belong to (its import counter). */
  version: string;
  /** A group column's name, e.g. `admin_area_3` → "LGA". */
  columns: Record<Column, string>;
  /** Admin levels 1-4, e.g. 3 → "LGA". */
  adminLevels: Record<Level, string>;
  /** A value column's name, e.g. `count_adjusted` → "Adjusted count". */
  values: Record<Prop, { label: string; description: string }>;
  /** An aggregate's name, e.g. `AVG` → "Average". */
  aggregates: Record<Agg, string>;
  /** Every aggregate of every value column, keyed `FUNC(prop)`, e.g. `AVG(count_adjusted)`. */
  measures: Record<string, MeasureLabel>;
  /** Indicator labels by id, in the dataset's display order. */
  indicators: Record<string, string>;
  /** Month labels (`"Jan 2025"`) of every period of the dataset, keyed YYYYMM. */
  periods: Record<string, string>;
}
