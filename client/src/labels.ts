/**
 * The label dictionary (`GET /api/labels`) and the number and month formats every chart,
 * legend, table and title goes through, so no raw identifier (`admin_area_3`,
 * `count_adjusted`, `anc1`, `AVG`, `202501`) reaches the screen.
 *
 * Months are calendar months, computed from the YYYYMM number itself: no `Date` and no
 * time zone is involved, so January 2025 is "Jan 2025" in New York as in Lagos.
 *
 * Pure functions (no DOM).
 *
 * @module
 */

import type {
  FetchValue as FetchValueWire,
  LabelsWire,
  MeasureLabel,
  NumberFormat,
} from "../../server/wire.ts";

export type { MeasureLabel, NumberFormat } from "../../server/wire.ts";

/** `GET /api/labels` (the shape is defined once, in `server/wire.ts`). */
export type Labels = LabelsWire;

/** One value of `config.fetch.values`. */
export type FetchValue = FetchValueWire;

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * A YYYYMM period as a calendar month.
 *
 * @example
 * ```ts
 * monthLabel(202501); // "Jan 2025"
 * ```
 */
export function monthLabel(period: number): string {
  const month = period % 100;
  if (!Number.isInteger(period) || month < 1 || month > 12) return String(period);
  return `${MONTHS[month - 1]} ${Math.floor(period / 100)}`;
}

/** Months since year 0 of a YYYYMM period (consecutive months are consecutive numbers). */
export function monthIndex(period: number): number {
  return Math.floor(period / 100) * 12 + (period % 100) - 1;
}

/** The YYYYMM period of a {@linkcode monthIndex}. */
export function periodOfMonthIndex(index: number): number {
  return Math.floor(index / 12) * 100 + (index % 12) + 1;
}

/** A group column's name ("LGA"), or a readable form of an unknown one. */
export function columnLabel(labels: Labels, column: string): string {
  return labels.columns[column] ?? humanize(column);
}

/** The measure of a value column under its aggregate (from `config.fetch.values`). */
export function measureOf(labels: Labels, value: FetchValue): MeasureLabel {
  return labels.measures[`${value.func}(${value.prop})`] ?? {
    label: `${labels.aggregates[value.func] ?? humanize(value.func)} ${
      (labels.values[value.prop]?.label ?? humanize(value.prop)).toLowerCase()
    }`,
    unit: "",
    format: "decimal",
  };
}

/** A measure's name with its unit: "Average adjusted count (services per facility-month)". */
export function measureTitle(measure: MeasureLabel): string {
  return measure.unit ? `${measure.label} (${measure.unit})` : measure.label;
}

/**
 * How a value of a group column is shown: indicators by their label, periods as months,
 * anything else as it is (admin areas, levels and ownership are already names).
 */
export function valueText(labels: Labels, column: string, value: string | number): string {
  if (column === "indicator_id") return labels.indicators[String(value)] ?? String(value);
  if (column === "period_id") return labels.periods[String(value)] ?? monthLabel(Number(value));
  return String(value);
}

const FULL: Record<NumberFormat, Intl.NumberFormat> = {
  integer: new Intl.NumberFormat("en", { maximumFractionDigits: 0 }),
  decimal: new Intl.NumberFormat("en", { maximumFractionDigits: 1, minimumFractionDigits: 1 }),
  percent: new Intl.NumberFormat("en", {
    style: "percent",
    maximumFractionDigits: 1,
    minimumFractionDigits: 1,
  }),
};
const COMPACT = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });
const COMPACT_PERCENT = new Intl.NumberFormat("en", { style: "percent", maximumFractionDigits: 0 });

/**
 * A number in full ("1,234,567", "12.3", "4.5%"); `null` is "–".
 *
 * @example
 * ```ts
 * formatNumber(1234567, "integer"); // "1,234,567"
 * ```
 */
export function formatNumber(value: number | null | undefined, format: NumberFormat): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  return FULL[format].format(value);
}

/**
 * A number for an axis tick: short ("1.2M", "950", "12%").
 *
 * @example
 * ```ts
 * compactNumber(1_234_567, "integer"); // "1.2M"
 * ```
 */
export function compactNumber(value: number, format: NumberFormat): string {
  return format === "percent" ? COMPACT_PERCENT.format(value) : COMPACT.format(value);
}

/** `snake_case` or `UPPER` as words ("admin area 3"), for ids the dictionary lacks. */
function humanize(id: string): string {
  const words = id.replace(/_/g, " ").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Every identifier the dictionary names (columns, value props, indicators, aggregates). */
export function rawIdentifiers(labels: Labels): string[] {
  return [
    ...Object.keys(labels.columns),
    ...Object.keys(labels.values),
    ...Object.keys(labels.indicators),
    ...Object.keys(labels.aggregates),
  ];
}
