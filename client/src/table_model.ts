/**
 * The rows of a presentation object as tables (pure): columns named from the label
 * dictionary; the long layout (one row per item) or the wide one (one row per area, one
 * column per indicator); filtering, sorting and paging; the CSV of the items.
 *
 * @module
 */
import { asString, generateCsv, mkConfig } from "export-to-csv";
import type { Item } from "./chart_data.ts";
import {
  columnLabel,
  type FetchValue,
  formatNumber,
  type Labels,
  measureOf,
  type NumberFormat,
  valueText,
} from "./labels.ts";

/** A cell's raw value (null: no item for that cell of a wide table). */
export type Cell = string | number | null;
/** A row: cells by column key. */
export type Row = Record<string, Cell>;

/** A column of a table. */
export interface Column {
  key: string;
  /** Its header. */
  label: string;
  /** A group column (text, left-aligned) or a measure (numbers, right-aligned). */
  kind: "group" | "value";
  /** Measures: how to write the numbers. */
  format?: NumberFormat;
  /** Group columns: the column id the values belong to (for their labels). */
  group?: string;
}

/** A table: its columns and rows. */
export interface Table {
  columns: Column[];
  rows: Row[];
}

/** The group and value columns of `items` (value columns are the fetch config's props). */
export function splitColumns(
  items: readonly Item[],
  values: readonly FetchValue[],
): { groups: string[]; props: string[] } {
  if (items.length === 0) return { groups: [], props: [] };
  const columns = Object.keys(items[0]);
  const props = values.map((v) => v.prop).filter((p) => columns.includes(p));
  const numeric = props.length > 0
    ? props
    : columns.filter((c) => c !== "period_id" && typeof items[0][c] === "number");
  return { groups: columns.filter((c) => !numeric.includes(c)), props: numeric };
}

/** One row per item, the columns in the items' order. */
export function longTable(
  items: readonly Item[],
  values: readonly FetchValue[],
  labels: Labels,
): Table {
  const { groups, props } = splitColumns(items, values);
  const measure = (prop: string) =>
    measureOf(labels, values.find((v) => v.prop === prop) ?? { prop, func: "SUM" });
  const columns: Column[] = [
    ...groups.map((key) => ({
      key,
      label: columnLabel(labels, key),
      kind: "group" as const,
      group: key,
    })),
    ...props.map((key) => ({
      key,
      label: measure(key).label,
      kind: "value" as const,
      format: measure(key).format,
    })),
  ];
  return { columns, rows: items as Row[] };
}

/**
 * The column a wide table spreads across (the chart's series column, else indicators, else
 * months), or undefined when the items have fewer than two group columns.
 */
export function pivotColumn(groups: readonly string[], seriesColumn?: string): string | undefined {
  if (groups.length < 2) return undefined;
  if (seriesColumn && groups.includes(seriesColumn)) return seriesColumn;
  return ["indicator_id", "period_id", "ownership"].find((c) => groups.includes(c)) ??
    groups[groups.length - 1];
}

/**
 * The wide layout: one row per combination of the other group columns, one column per value
 * of `pivot` (and measure, when there are several).
 *
 * @example
 * ```ts
 * // LGA × indicator items → rows of LGAs, a column per indicator
 * wideTable(items, [{ prop: "outlier", func: "SUM" }], labels, "indicator_id");
 * ```
 */
export function wideTable(
  items: readonly Item[],
  values: readonly FetchValue[],
  labels: Labels,
  pivot: string,
): Table {
  const { groups, props } = splitColumns(items, values);
  const keep = groups.filter((g) => g !== pivot);
  const pivotValues = [...new Set(items.map((item) => item[pivot]))];
  if (pivot === "indicator_id") {
    const order = Object.keys(labels.indicators);
    pivotValues.sort((a, b) => rank(order, String(a)) - rank(order, String(b)));
  } else if (typeof pivotValues[0] === "number") {
    pivotValues.sort((a, b) => Number(a) - Number(b));
  } else pivotValues.sort((a, b) => String(a).localeCompare(String(b)));
  const measures = new Map(props.map((p) => [
    p,
    measureOf(labels, values.find((v) => v.prop === p) ?? { prop: p, func: "SUM" }),
  ]));
  const columns: Column[] = [
    ...keep.map((key) => ({
      key,
      label: columnLabel(labels, key),
      kind: "group" as const,
      group: key,
    })),
    ...pivotValues.flatMap((pv) =>
      props.map((p) => ({
        key: `${pivot}=${pv}|${p}`,
        label: props.length > 1
          ? `${valueText(labels, pivot, pv)}: ${measures.get(p)!.label}`
          : valueText(labels, pivot, pv),
        kind: "value" as const,
        format: measures.get(p)!.format,
      }))
    ),
  ];
  const rows = new Map<string, Row>();
  for (const item of items) {
    const key = keep.map((k) => String(item[k])).join("\u0000");
    let row = rows.get(key);
    if (!row) {
      row = Object.fromEntries(keep.map((k) => [k, item[k]]));
      for (const column of columns) if (column.kind === "value") row[column.key] = null;
      rows.set(key, row);
    }
    for (const p of props) row[`${pivot}=${item[pivot]}|${p}`] = item[p];
  }
  return { columns, rows: [...rows.values()] };
}

function rank(order: readonly string[], id: string): number {
  const i = order.indexOf(id);
  return i < 0 ? Infinity : i;
}

/** A cell as shown: labels for group values, formatted numbers for measures. */
export function cellText(labels: Labels, column: Column, value: Cell): string {
  if (column.kind === "value") return formatNumber(value as number | null, column.format!);
  if (value === null) return "–";
  return valueText(labels, column.group ?? column.key, value);
}

/** The rows whose shown text (any cell) contains `query` (case-insensitive; blank: all). */
export function filterRows(
  rows: readonly Row[],
  columns: readonly Column[],
  labels: Labels,
  query: string,
): Row[] {
  const needle = query.trim().toLocaleLowerCase();
  if (needle === "") return [...rows];
  return rows.filter((row) =>
    columns.some((column) =>
      cellText(labels, column, row[column.key]).toLocaleLowerCase().includes(needle)
    )
  );
}

/** Sort direction. */
export type Direction = "ascending" | "descending";

/**
 * The rows sorted by one column: numbers as numbers (periods in time order), text as shown
 * (indicator labels, not ids), empty cells last either way. Stable.
 */
export function sortRows(
  rows: readonly Row[],
  column: Column,
  direction: Direction,
  labels: Labels,
): Row[] {
  const sign = direction === "ascending" ? 1 : -1;
  const key = (row: Row): string | number | null => {
    const value = row[column.key];
    if (value === null || value === undefined) return null;
    if (typeof value === "number") return value;
    return cellText(labels, column, value);
  };
  return rows
    .map((row, i) => ({ row, i, k: key(row) }))
    .sort((a, b) => {
      if (a.k === null || b.k === null) return a.k === b.k ? a.i - b.i : a.k === null ? 1 : -1;
      const order = typeof a.k === "number" && typeof b.k === "number"
        ? a.k - b.k
        : String(a.k).localeCompare(String(b.k), "en", { numeric: true });
      return order * sign || a.i - b.i;
    })
    .map((x) => x.row);
}

/** One page of rows: `page` counts from 1 and is clamped to the pages there are. */
export function pageOf<T>(
  rows: readonly T[],
  page: number,
  size: number,
): { rows: T[]; page: number; pages: number; first: number; last: number } {
  const pages = Math.max(1, Math.ceil(rows.length / size));
  const current = Math.min(Math.max(1, Math.floor(page)), pages);
  const start = (current - 1) * size;
  const slice = rows.slice(start, start + size);
  return {
    rows: slice,
    page: current,
    pages,
    first: slice.length ? start + 1 : 0,
    last: start + slice.length,
  };
}

/**
 * The items as CSV, exactly as the API gave them: one line per item, the columns in the
 * items' order under their ids (a file for other tools: ids, not labels), numbers as
 * numbers. RFC 4180 quoting; text that a spreadsheet would run as a formula is prefixed
 * with `'`. With a UTF-8 byte order mark (Excel needs it for non-ASCII names).
 */
export function itemsCsv(items: readonly Item[]): string {
  if (items.length === 0) return "";
  const config = mkConfig({
    columnHeaders: Object.keys(items[0]),
    quoteStrings: true,
    useBom: true,
    escapeFormulas: true,
  });
  return asString(generateCsv(config)(items as Item[]));
}
