/**
 * Plain text tables (status, summaries, config listings) drawn by `cli-table3`: aligned
 * columns, no borders, so they read well in a terminal and in a log.
 *
 * @module
 */

import Table from "cli-table3";

/**
 * Renders rows under a header as aligned columns.
 *
 * @param head Column titles.
 * @param rows Cells, one array per row.
 * @returns The table, without a trailing newline.
 * @example
 * ```ts
 * import { renderTable } from "./table.ts";
 * renderTable(["ID", "STATE"], [["demo", "running"]]);
 * // "ID    STATE\ndemo  running"
 * ```
 */
export function renderTable(head: string[], rows: readonly string[][]): string {
  const table = new Table({
    head,
    chars: {
      "top": "",
      "top-mid": "",
      "top-left": "",
      "top-right": "",
      "bottom": "",
      "bottom-mid": "",
      "bottom-left": "",
      "bottom-right": "",
      "left": "",
      "left-mid": "",
      "mid": "",
      "mid-mid": "",
      "right": "",
      "right-mid": "",
      "middle": "  ",
    },
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0, compact: true },
  });
  table.push(...rows.map((row) => [...row]));
  return table.toString().split("\n").map((line) => line.trimEnd()).join("\n");
}
