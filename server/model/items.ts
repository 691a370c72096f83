/**
 * The items (aggregated rows) of a presentation object.
 *
 * @module
 */

import type { Db } from "../db.ts";
import { buildItemsQuery, MAX_ITEMS, parseFetchConfig } from "./fetch_config.ts";
import { ValidationError } from "./errors.ts";
import { periodAddMonths, type PeriodRange } from "./period.ts";
import type { PoDetail } from "./presentation_objects.ts";
import type { PoItem, PoItemsResult } from "../wire.ts";

export type { PoItem, PoItemsResult } from "../wire.ts";

/**
 * Runs a presentation object's fetch config over its results object.
 *
 * `dateRange`: with `period_id` among the group columns, the first and last period of the
 * items; otherwise the period window the query covered (the results' range narrowed by the period
 * filter).
 *
 * @param po At least `resultsObjectId` and `config` (with `config.fetch`).
 * @returns `ok` with at most `MAX_ITEMS` items, `too_many_items` when there are more, or
 *   `no_data_available` when nothing matches.
 * @throws {ValidationError} If the stored `config.fetch` is invalid.
 * @throws {DatabaseUnavailableError} If the database cannot be reached.
 */
export async function fetchPoItems(
  db: Db,
  po: Pick<PoDetail, "resultsObjectId" | "config">,
): Promise<PoItemsResult> {
  let config;
  try {
    config = parseFetchConfig(po.config?.fetch);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const field = error.field ? `config.fetch.${error.field}` : "config.fetch";
    throw new ValidationError(`Invalid stored 'config.fetch': ${error.message}`, field);
  }
  const query = buildItemsQuery(po.resultsObjectId, config);
  const items = await db.query<PoItem>(query.text, query.params);
  if (items.length > MAX_ITEMS) return { status: "too_many_items", limit: MAX_ITEMS };
  if (items.length === 0) return { status: "no_data_available" };

  let dateRange: PeriodRange | undefined;
  if (config.groupBys.includes("period_id")) {
    let min = Infinity;
    let max = -Infinity;
    for (const item of items) {
      const p = item.period_id as number;
      if (p < min) min = p;
      if (p > max) max = p;
    }
    dateRange = { min, max };
  } else {
    const [range] = await db.query<{ min: number | null; max: number | null }>(
      `SELECT min(period_id) AS min, max(period_id) AS max
         FROM results_hmis WHERE results_object_id = $1`,
      [po.resultsObjectId],
    );
    if (range?.min != null && range.max != null) {
      const pf = config.periodFilter;
      if (pf?.kind === "last_n_months") {
        dateRange = {
          min: Math.max(range.min, periodAddMonths(range.max, 1 - pf.n)),
          max: range.max,
        };
      } else if (pf?.kind === "between") {
        dateRange = { min: Math.max(range.min, pf.min), max: Math.min(range.max, pf.max) };
      } else {
        dateRange = { min: range.min, max: range.max };
      }
    }
  }
  return { status: "ok", items, dateRange };
}
