/**
 * Items of a presentation object as a chart model (pure): categories or months along x, and
 * one panel per kind of measure, so measures of different units never share an axis (an
 * average per facility-month is not drawn against a maximum on the same scale: each gets
 * its own panel, its own y axis and title). Every name comes from the label dictionary.
 *
 * The display config names the x column and, optionally, the column whose values become
 * series; any other group column joins the category ("Ward (LGA)").
 *
 * @module
 */
import {
  columnLabel,
  type FetchValue,
  type Labels,
  measureOf,
  monthIndex,
  monthLabel,
  type NumberFormat,
  periodOfMonthIndex,
  valueText,
} from "./labels.ts";
import type { PoItem } from "../../server/wire.ts";

/** An item: group columns (strings, `period_id` a YYYYMM number) and values (numbers). */
export type Item = PoItem;

/** `config.display` of a presentation object. */
export interface Display {
  type?: "bar" | "timeseries" | "table" | string;
  x?: string;
  series?: string;
}

/** One series of a panel. */
export interface ChartSeries {
  label: string;
  values: (number | null)[];
}

/** One y axis: the series of one measure (or of measures of the same unit). */
export interface ChartPanel {
  /** The measure's name, e.g. "Average adjusted count". */
  title: string;
  /** Its unit, e.g. "services per facility-month". */
  unit: string;
  format: NumberFormat;
  series: ChartSeries[];
}

/** What a chart draws. */
export interface ChartModel {
  kind: "bar" | "timeseries";
  /** What x is ("LGA", "Month"). */
  xTitle: string;
  /** The label of each x. */
  labels: string[];
  /** x values: category positions (bar) or month indexes ({@linkcode monthIndex}). */
  xs: number[];
  panels: ChartPanel[];
  /** Categories left out (past {@linkcode MAX_CATEGORIES}); the table has every row. */
  omitted: number;
}

/** Most categories a bar chart shows (the table has all rows). */
export const MAX_CATEGORIES = 60;

/** How bars are ordered: by value (largest first) or as the data comes (by name). */
export type BarOrder = "value" | "name";

/** Options of {@linkcode chartModel}. */
export interface ChartModelOptions {
  /** @default {"value"} */
  order?: BarOrder;
}

/**
 * The chart of `items` under `display`, or undefined when there is nothing to draw (a
 * table, no items, no value column).
 *
 * @param values `config.fetch.values` (which aggregate made each value column).
 * @example
 * ```ts
 * chartModel({ type: "bar", x: "admin_area_3", series: "indicator_id" },
 *   [{ prop: "count", func: "SUM" }], items, labels);
 * ```
 */
export function chartModel(
  display: Display,
  values: readonly FetchValue[],
  items: readonly Item[],
  labels: Labels,
  options: ChartModelOptions = {},
): ChartModel | undefined {
  if (items.length === 0 || (display.type !== "bar" && display.type !== "timeseries")) {
    return undefined;
  }
  const columns = Object.keys(items[0]);
  const valueProps = values.map((v) => v.prop).filter((prop) => columns.includes(prop));
  const fallbackValues = valueProps.length > 0
    ? valueProps
    : columns.filter((column) => column !== "period_id" && typeof items[0][column] === "number");
  if (fallbackValues.length === 0) return undefined;
  const groups = columns.filter((column) => !fallbackValues.includes(column));
  const x = display.x && groups.includes(display.x) ? display.x : groups[0] ?? columns[0];
  const seriesColumn = display.series && groups.includes(display.series) && display.series !== x
    ? display.series
    : undefined;
  const extras = groups.filter((column) => column !== x && column !== seriesColumn);
  const kind = display.type === "timeseries" && x === "period_id" ? "timeseries" : "bar";

  // Categories: the x value with any other group column ("Ward (LGA)").
  const keyOf = (item: Item) => [x, ...extras].map((c) => String(item[c])).join("\u0000");
  const labelOf = (item: Item) => {
    const main = valueText(labels, x, item[x]);
    return extras.length === 0
      ? main
      : `${main} (${extras.map((c) => valueText(labels, c, item[c])).join(", ")})`;
  };
  const categories = new Map<string, { label: string; first: Item }>();
  for (const item of items) {
    const key = keyOf(item);
    if (!categories.has(key)) categories.set(key, { label: labelOf(item), first: item });
  }
  let keys = [...categories.keys()];
  if (kind === "timeseries") {
    keys.sort((a, b) => Number(categories.get(a)!.first[x]) - Number(categories.get(b)!.first[x]));
  }

  // Series names: one per value of the series column, or per value column.
  const seriesValues = seriesColumn
    ? [...new Set(items.map((item) => String(item[seriesColumn])))].sort((a, b) =>
      seriesColumn === "indicator_id"
        ? indicatorRank(labels, a) - indicatorRank(labels, b)
        : a.localeCompare(b)
    )
    : [undefined];
  const measureByProp = new Map(
    fallbackValues.map((prop) => [
      prop,
      measureOf(labels, values.find((v) => v.prop === prop) ?? { prop, func: "SUM" }),
    ]),
  );
  // Panels: value columns of the same unit and format share one.
  const panelsByUnit = new Map<string, string[]>();
  for (const prop of fallbackValues) {
    const m = measureByProp.get(prop)!;
    const unitKey = `${m.unit}\u0000${m.format}`;
    panelsByUnit.set(unitKey, [...(panelsByUnit.get(unitKey) ?? []), prop]);
  }

  const valueAt = new Map<string, number>();
  for (const item of items) {
    const s = seriesColumn ? String(item[seriesColumn]) : "";
    for (const prop of fallbackValues) {
      const k = `${keyOf(item)}\u0001${s}\u0001${prop}`;
      valueAt.set(k, (valueAt.get(k) ?? 0) + Number(item[prop]));
    }
  }
  const panelsOf = (order: string[]): ChartPanel[] =>
    [...panelsByUnit.values()].map((props) => {
      const first = measureByProp.get(props[0])!;
      const title = props.length === 1 ? first.label : props.map((p, i) => {
        const label = measureByProp.get(p)!.label;
        return i === 0 ? label : label.charAt(0).toLowerCase() + label.slice(1);
      }).join(" and ");
      const series: ChartSeries[] = [];
      for (const s of seriesValues) {
        for (const prop of props) {
          const name = s === undefined
            ? measureByProp.get(prop)!.label
            : props.length === 1
            ? valueText(labels, seriesColumn!, s)
            : `${valueText(labels, seriesColumn!, s)}: ${measureByProp.get(prop)!.label}`;
          series.push({
            label: name,
            values: order.map((key) => valueAt.get(`${key}\u0001${s ?? ""}\u0001${prop}`) ?? null),
          });
        }
      }
      return { title, unit: first.unit, format: first.format, series };
    });

  if (kind === "bar" && (options.order ?? "value") === "value") {
    const [panel] = panelsOf(keys);
    const totals = new Map(
      keys.map((key, i) => [key, panel.series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0)]),
    );
    keys = [...keys].sort((a, b) => totals.get(b)! - totals.get(a)!);
  }
  const omitted = Math.max(0, keys.length - MAX_CATEGORIES);
  if (kind === "bar") keys = keys.slice(0, MAX_CATEGORIES);
  return {
    kind,
    xTitle: columnLabel(labels, x),
    labels: keys.map((key) => categories.get(key)!.label),
    xs: kind === "timeseries"
      ? keys.map((key) => monthIndex(Number(categories.get(key)!.first[x])))
      : keys.map((_, i) => i),
    panels: panelsOf(keys),
    omitted,
  };
}

function indicatorRank(labels: Labels, id: string): number {
  const rank = Object.keys(labels.indicators).indexOf(id);
  return rank < 0 ? Infinity : rank;
}

/** The label of an x value of a timeseries (a month index). */
export function monthOfIndex(index: number): string {
  return monthLabel(periodOfMonthIndex(index));
}

/**
 * A one-sentence summary of a chart for assistive technology: what is drawn, over what,
 * and the largest value of each panel.
 */
export function chartSummary(model: ChartModel, format: (v: number, f: NumberFormat) => string) {
  const kind = model.kind === "bar" ? "Bar chart" : "Line chart";
  const over = model.kind === "timeseries" && model.labels.length > 0
    ? `by month, ${model.labels[0]} to ${model.labels[model.labels.length - 1]}`
    : `by ${model.xTitle} (${model.labels.length} ${
      model.labels.length === 1 ? "category" : "categories"
    })`;
  const panels = model.panels.map((panel) => {
    let best: { value: number; x: string; series: string } | undefined;
    for (const s of panel.series) {
      s.values.forEach((value, i) => {
        if (value !== null && (best === undefined || value > best.value)) {
          best = { value, x: model.labels[i], series: s.label };
        }
      });
    }
    const names = panel.series.map((s) => s.label).join(", ");
    return `${panel.title} (${panel.unit}) for ${names}` +
      (best
        ? `; highest ${format(best.value, panel.format)} at ${best.x}` +
          (panel.series.length > 1 ? ` (${best.series})` : "")
        : "");
  });
  return `${kind} ${over}: ${panels.join(". ")}.`;
}
