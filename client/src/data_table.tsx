/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * The rows of a presentation object: every row reachable (pages of 25 to 500), sorted by any
 * column (click its header; `aria-sort` says how), filtered by text, in the long layout or
 * the wide one (areas down, indicators across), with a header that stays in view while the
 * rows scroll, and a CSV download of the items exactly as the API gave them.
 *
 * @module
 */
import { useMemo, useState } from "preact/hooks";
import type { Item } from "./chart_data.ts";
import { download, fileNameOf } from "./download.ts";
import type { FetchValue, Labels } from "./labels.ts";
import {
  cellText,
  type Direction,
  filterRows,
  itemsCsv,
  longTable,
  pageOf,
  pivotColumn,
  sortRows,
  splitColumns,
  wideTable,
} from "./table_model.ts";

const PAGE_SIZES = [25, 50, 100, 500];

/** The table of `items`; `title` names the CSV. */
export function DataTable(
  { items, values, labels, title, seriesColumn }: {
    items: readonly Item[];
    values: readonly FetchValue[];
    labels: Labels;
    title: string;
    /** The chart's series column: the wide layout spreads it across. */
    seriesColumn?: string;
  },
) {
  const { groups } = useMemo(() => splitColumns(items, values), [items, values]);
  const pivot = pivotColumn(groups, seriesColumn);
  const [layout, setLayout] = useState<"long" | "wide">("long");
  const [query, setQuery] = useState("");
  const [sort, setSort] = useState<{ key: string; direction: Direction }>();
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(50);
  const table = useMemo(
    () =>
      layout === "wide" && pivot
        ? wideTable(items, values, labels, pivot)
        : longTable(items, values, labels),
    [items, values, labels, layout, pivot],
  );
  const shown = useMemo(() => {
    const filtered = filterRows(table.rows, table.columns, labels, query);
    const column = sort && table.columns.find((c) => c.key === sort.key);
    return column ? sortRows(filtered, column, sort!.direction, labels) : filtered;
  }, [table, query, sort, labels]);
  const current = pageOf(shown, page, pageSize);
  const toggleSort = (key: string) => {
    setSort(
      sort?.key === key
        ? { key, direction: sort.direction === "ascending" ? "descending" : "ascending" }
        : {
          key,
          direction: table.columns.find((c) => c.key === key)?.kind === "value"
            ? "descending"
            : "ascending",
        },
    );
    setPage(1);
  };
  const saveCsv = () =>
    download(new Blob([itemsCsv(items)], { type: "text/csv" }), fileNameOf(title, "csv"));

  return (
    <div class="data-table" data-layout={layout} data-total-rows={shown.length}>
      <div class="table-tools">
        <label>
          Filter rows{" "}
          <input
            type="search"
            class="table-filter"
            value={query}
            onInput={(event) => {
              setQuery((event.currentTarget as HTMLInputElement).value);
              setPage(1);
            }}
          />
        </label>
        {pivot && (
          <label>
            Layout{" "}
            <select
              class="table-layout"
              value={layout}
              onChange={(event) => {
                setLayout((event.currentTarget as HTMLSelectElement).value as "long" | "wide");
                setSort(undefined);
                setPage(1);
              }}
            >
              <option value="long">one row per item</option>
              <option value="wide">
                {groups.filter((g) => g !== pivot).map((g) => labels.columns[g] ?? g).join(
                  ", ",
                )} by {labels.columns[pivot] ?? pivot}
              </option>
            </select>
          </label>
        )}
        <button type="button" class="secondary save-csv" onClick={saveCsv}>
          Download CSV ({items.length.toLocaleString("en")} rows)
        </button>
      </div>
      <div class="table-scroll" tabIndex={0} role="region" aria-label={`${title}: table`}>
        <table>
          <thead>
            <tr>
              {table.columns.map((column) => (
                <th
                  key={column.key}
                  scope="col"
                  class={column.kind === "value" ? "num" : undefined}
                  aria-sort={sort?.key === column.key ? sort.direction : undefined}
                >
                  <button type="button" class="sort" onClick={() => toggleSort(column.key)}>
                    {column.label}
                    <span aria-hidden="true" class="sort-mark">
                      {sort?.key === column.key
                        ? (sort.direction === "ascending" ? " ▲" : " ▼")
                        : ""}
                    </span>
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {current.rows.map((row, i) => (
              <tr key={`${current.page}-${i}`}>
                {table.columns.map((column) => (
                  <td key={column.key} class={column.kind === "value" ? "num" : undefined}>
                    {cellText(labels, column, row[column.key] ?? null)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label={`Pages of ${title}`}>
        <span class="table-status" role="status">
          {shown.length === 0
            ? "No rows match the filter"
            : `Rows ${current.first.toLocaleString("en")}–${current.last.toLocaleString("en")} of ${
              shown.length.toLocaleString("en")
            }`}
          {shown.length !== table.rows.length && ` (filtered from ${table.rows.length})`}
        </span>
        <button
          type="button"
          class="secondary page-prev"
          disabled={current.page <= 1}
          onClick={() => setPage(current.page - 1)}
        >
          Previous
        </button>
        <span class="page-of">Page {current.page} of {current.pages}</span>
        <button
          type="button"
          class="secondary page-next"
          disabled={current.page >= current.pages}
          onClick={() => setPage(current.page + 1)}
        >
          Next
        </button>
        <label>
          Rows per page{" "}
          <select
            class="page-size"
            value={pageSize}
            onChange={(event) => {
              setPageSize(Number((event.currentTarget as HTMLSelectElement).value));
              setPage(1);
            }}
          >
            {PAGE_SIZES.map((size) => <option key={size} value={size}>{size}</option>)}
          </select>
        </label>
      </nav>
    </div>
  );
}
