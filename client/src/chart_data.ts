/**
 * Items of a presentation object as chart series (pure): the display config names the x
 * column and, optionally, the column whose values become series; otherwise each value
 * column is a series.
 *
 * @module
 */

/** An item: group columns (strings, `period_id` a YYYYMM number) and values (numbers). */
export type Item = Record<string, string | number>;

/** `config.display` of a presentation object. */
export interface Display {
  type?: "bar" | "timeseries" | "table" | string;
  x?: string;
  series?: string;
}

/** What a chart draws. */
export interface ChartData {
  kind: "bar" | "timeseries";
  /** What x is (its column). */
  xLabel: string;
  /** Categories (bar) or periods as text (timeseries), one per x. */
  labels: string[];
  /** x values: category indexes (bar) or epoch seconds of each period's first day. */
  xs: number[];
  series: { label: string; values: (number | null)[] }[];
}

/** Most categories a bar chart shows (the table has all rows). */
export const MAX_CATEGORIES = 60;

/** Epoch seconds of the first day (UTC) of a YYYYMM period. */
export function periodToEpochS(period: number): number {
  return Date.UTC(Math.floor(period / 100), (period % 100) - 1, 1) / 1000;
}

/**
 * The chart of `items` under `display`, or undefined when there is nothing to draw (a
 * table, no items, no value column).
 *
 * @example
 * ```ts
 * chartData({ type: "bar", x: "lga", series: "ind" }, [
 *   { lga: "A", ind: "anc1", n: 1 }, { lga: "A", ind: "anc4", n: 2 }, { lga: "B", ind: "anc1", n: 3 },
 * ]);
 * // { kind: "bar", xLabel: "lga", labels: ["A", "B"], xs: [0, 1],
 * //   series: [{ label: "anc1", values: [1, 3] }, { label: "anc4", values: [2, null] }] }
 * ```
 */
export function chartData(display: Display, items: readonly Item[]): ChartData | undefined {
  if (items.length === 0 || (display.type !== "bar" && display.type !== "timeseries")) {
    return undefined;
  }
  const columns = Object.keys(items[0]);
  const x = display.x && columns.includes(display.x) ? display.x : columns[0];
  const seriesColumn = display.series && columns.includes(display.series)
    ? display.series
    : undefined;
  const valueColumns = columns.filter((column) =>
    column !== x && column !== seriesColumn && column !== "period_id" &&
    typeof items[0][column] === "number"
  );
  if (valueColumns.length === 0) return undefined;
  const kind = display.type === "timeseries" ? "timeseries" : "bar";
  let labels = [...new Set(items.map((item) => String(item[x])))];
  if (kind === "timeseries") labels.sort((a, b) => Number(a) - Number(b));
  labels = labels.slice(0, MAX_CATEGORIES);
  const index = new Map(labels.map((label, i) => [label, i]));
  const names = seriesColumn
    ? [...new Set(items.map((item) => String(item[seriesColumn])))].sort()
    : valueColumns;
  const series = names.map((label) => ({
    label,
    values: labels.map(() => null as number | null),
  }));
  for (const item of items) {
    const at = index.get(String(item[x]));
    if (at === undefined) continue;
    if (seriesColumn) {
      const target = series[names.indexOf(String(item[seriesColumn]))];
      target.values[at] = (target.values[at] ?? 0) + Number(item[valueColumns[0]]);
    } else {
      valueColumns.forEach((column, i) => series[i].values[at] = Number(item[column]));
    }
  }
  const xs = kind === "timeseries"
    ? labels.map((label) => periodToEpochS(Number(label)))
    : labels.map((_, i) => i);
  return { kind, xLabel: x, labels, xs, series };
}
