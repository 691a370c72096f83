/**
 * The items (aggregated rows) of a presentation object.
 *
 * @module
 */

import type { Db } from "../db.ts";
import { bodyValue, type RawJson, rawJson } from "../raw_json.ts";
import { buildItemsQuery, effectiveGroupBys, MAX_ITEMS, parseFetchConfig } from "./fetch_config.ts";
import { ValidationError } from "./errors.ts";
import { periodAddMonths, type PeriodRange } from "./period.ts";
import type { PoDetail } from "./presentation_objects.ts";
import type { PoItemsResult } from "../wire.ts";

export type { PoItem, PoItemsResult } from "../wire.ts";

/**
 * A presentation object's items as the routes serve and cache them: the `ok` answer as its
 * JSON text, built by Postgres ({@linkcode RawJson}: a national object's 19,000 rows are
 * never JS objects), the other answers as small objects.
 */
export type PoItemsBody = RawJson | Exclude<PoItemsResult, { status: "ok" }>;

/**
 * Runs a presentation object's fetch config over its results object (see
 * {@linkcode fetchPoItemsBody}) and returns the answer as a value.
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
  return bodyValue<PoItemsResult>(await fetchPoItemsBody(db, po));
}

/**
 * Runs a presentation object's fetch config over its results object; the `ok` answer is
 * `{"status":"ok","items":[…],"dateRange":{…}}` as JSON text, the items serialized by
 * Postgres (`row_to_json` of each, joined in the items' order), so the server handles one string
 * however many items there are.
 *
 * `dateRange`: with `period_id` among the group columns, the first and last period of the
 * items; otherwise the period window the query covered (the results' range narrowed by the period
 * filter).
 *
 * @param po At least `resultsObjectId` and `config` (with `config.fetch`).
 * @returns `ok` ({@linkcode RawJson}) with at most `MAX_ITEMS` items, `too_many_items` when
 *   there are more, or `no_data_available` when nothing matches.
 * @throws {ValidationError} If the stored `config.fetch` is invalid.
 * @throws {DatabaseUnavailableError} If the database cannot be reached.
 */
export async function fetchPoItemsBody(
  db: Db,
  po: Pick<PoDetail, "resultsObjectId" | "config">,
): Promise<PoItemsBody> {
  let config;
  try {
    config = parseFetchConfig(po.config?.fetch);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const field = error.field ? `config.fetch.${error.field}` : "config.fetch";
    throw new ValidationError(`Invalid stored 'config.fetch': ${error.message}`, field);
  }
  const query = buildItemsQuery(po.resultsObjectId, config);
  const groupBys = effectiveGroupBys(config);
  const byPeriod = config.groupBys.includes("period_id");
  // Each row as compact JSON (row_to_json; json_agg would put ", \n " between them), joined
  // in the query's order: its ORDER BY columns (the group columns are unique per row, so the
  // order is total).
  const order = groupBys.length > 0
    ? ` ORDER BY ${groupBys.map((c) => `q."${c}"`).join(", ")}`
    : "";
  const [row] = await db.query<
    { n: number; items: string | null; min: number | null; max: number | null }
  >(
    `WITH q AS MATERIALIZED (
${query.text}
)
SELECT n,
       CASE WHEN n BETWEEN 1 AND ${MAX_ITEMS}
            THEN (SELECT '[' || string_agg(row_to_json(q)::text, ','${order}) || ']' FROM q)
       END AS items,
       ${byPeriod ? `(SELECT min(q."period_id") FROM q)` : "NULL::int"} AS min,
       ${byPeriod ? `(SELECT max(q."period_id") FROM q)` : "NULL::int"} AS max
  FROM (SELECT count(*)::int AS n FROM q) counted`,
    query.params,
  );
  if (row.n > MAX_ITEMS) return { status: "too_many_items", limit: MAX_ITEMS };
  if (row.n === 0 || row.items === null) return { status: "no_data_available" };

  let dateRange: PeriodRange | undefined;
  if (byPeriod) {
    dateRange = { min: row.min!, max: row.max! };
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
  const tail = dateRange ? `,"dateRange":${JSON.stringify(dateRange)}` : "";
  return rawJson(`{"status":"ok","items":${row.items}${tail}}`);
}
