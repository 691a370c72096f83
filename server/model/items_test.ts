import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { createTestDatabase, loadSmallFixture } from "../testing/pg.ts";
import { DEMO_RESULTS_OBJECT_ID } from "../load/mod.ts";
import { bodyValue, isRawJson } from "../raw_json.ts";
import { buildItemsQuery, parseFetchConfig } from "./fetch_config.ts";
import {
  fetchPoItems,
  fetchPoItemsBody,
  getPresentationObject,
  listPresentationObjects,
  MAX_ITEMS,
  type PoItemsResult,
  ValidationError,
} from "./mod.ts";

const fetch = (fetchConfig: unknown) => ({
  resultsObjectId: DEMO_RESULTS_OBJECT_ID,
  config: { fetch: fetchConfig },
});

function items(result: PoItemsResult) {
  if (result.status !== "ok") throw new Error(`expected ok, got ${result.status}`);
  return result;
}

Deno.test("fetchPoItems() on the small fixture", async (t) => {
  await using test = await createTestDatabase();
  const { db } = test;
  const summary = await loadSmallFixture(db);

  await t.step("every sample presentation object has data", async () => {
    for (const po of await listPresentationObjects(db, "demo")) {
      const detail = (await getPresentationObject(db, "demo", po.poId))!;
      const result = items(await fetchPoItems(db, detail));
      ok(result.items.length > 0, po.poId);
    }
  });

  await t.step("sums match a direct SQL sum over the raw dataset", async () => {
    const po = (await getPresentationObject(db, "demo", "po_indicators_2024"))!;
    const result = items(await fetchPoItems(db, po));
    const expected = await db.query<{ indicator_id: string; count: number }>(
      `SELECT indicator_id, sum(count)::float8 AS count FROM dataset_hmis
        WHERE period_id BETWEEN 202401 AND 202412 GROUP BY 1 ORDER BY 1`,
    );
    deepEqual(
      result.items.map((i) => ({ indicator_id: i.indicator_id, count: i.count })),
      expected,
    );
    deepEqual(result.dateRange, { min: 202401, max: 202412 });
    ok(result.items.some((i) => (i.count_adjusted as number) < (i.count as number)), "outliers");
  });

  await t.step("last_n_months counts back from the latest period in the results", async () => {
    const result = items(
      await fetchPoItems(
        db,
        fetch({
          values: [{ prop: "count_adjusted", func: "SUM" }],
          groupBys: ["admin_area_3", "indicator_id"],
          filters: [{ col: "indicator_id", vals: ["anc1", "anc4"] }],
          periodFilter: { kind: "last_n_months", n: 12 },
        }),
      ),
    );
    deepEqual(result.dateRange, { min: 202501, max: 202512 });
    const first = result.items[0];
    const [{ total }] = await db.query<{ total: number }>(
      `SELECT sum(count_adjusted)::float8 AS total FROM results_hmis
        WHERE admin_area_3 = $1 AND indicator_id = $2 AND period_id >= 202501`,
      [first.admin_area_3, first.indicator_id],
    );
    equal(first.count_adjusted, total);
    const lastMonth = items(
      await fetchPoItems(
        db,
        fetch({
          values: [{ prop: "count", func: "SUM" }],
          groupBys: ["period_id"],
          periodFilter: { kind: "last_n_months", n: 1 },
        }),
      ),
    );
    deepEqual(lastMonth.items.map((i) => i.period_id), [202512]);
    deepEqual(lastMonth.dateRange, { min: 202512, max: 202512 });
  });

  await t.step("facility_level and ownership come from facilities", async () => {
    const result = items(
      await fetchPoItems(
        db,
        fetch({
          values: [{ prop: "count", func: "SUM" }, { prop: "outlier", func: "MAX" }],
          groupBys: ["facility_level", "ownership"],
          filters: [{ col: "ownership", vals: ["Public", "Private"] }],
        }),
      ),
    );
    const expected = await db.query<Record<string, string | number>>(
      `SELECT f.facility_level, f.ownership, sum(h.count)::float8 AS count
         FROM dataset_hmis h JOIN facilities f USING (facility_id)
        WHERE f.ownership IN ('Public', 'Private') GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    deepEqual(result.items.map(({ outlier: _, ...rest }) => rest), expected);
  });

  await t.step("grouping by ward also groups by LGA", async () => {
    const po = (await getPresentationObject(db, "demo", "po_deliveries_by_ward"))!;
    const result = items(await fetchPoItems(db, po));
    ok(result.items.every((i) => typeof i.admin_area_3 === "string" && "admin_area_4" in i));
  });

  await t.step(
    "too_many_items beyond MAX_ITEMS, no_data_available when nothing matches",
    async () => {
      ok(summary.hmisRows > MAX_ITEMS, `fixture has ${summary.hmisRows} rows`);
      deepEqual(
        await fetchPoItems(
          db,
          fetch({
            values: [{ prop: "count", func: "SUM" }],
            groupBys: ["facility_id", "indicator_id", "period_id"],
          }),
        ),
        { status: "too_many_items", limit: MAX_ITEMS },
      );
      deepEqual(
        await fetchPoItems(
          db,
          fetch({
            values: [{ prop: "count", func: "SUM" }],
            filters: [{ col: "indicator_id", vals: ["no_such_indicator"] }],
          }),
        ),
        { status: "no_data_available" },
      );
      deepEqual(
        await fetchPoItems(db, {
          resultsObjectId: "no_such_results_object",
          config: { fetch: { values: [{ prop: "count", func: "SUM" }], groupBys: ["period_id"] } },
        }),
        { status: "no_data_available" },
      );
    },
  );

  await t.step(
    "the items' JSON from Postgres is the query's rows, in order, value for value",
    async () => {
      const configs = [
        ...(await Promise.all(
          (await listPresentationObjects(db, "demo")).map(async (po) =>
            (await getPresentationObject(db, "demo", po.poId))!.config.fetch
          ),
        )),
        {
          values: [
            { prop: "count", func: "AVG" },
            { prop: "count_adjusted", func: "MIN" },
            { prop: "outlier", func: "COUNT" },
          ],
          groupBys: ["admin_area_4", "facility_level", "period_id"],
          periodFilter: { kind: "last_n_months", n: 3 },
        },
        { values: [{ prop: "count", func: "SUM" }, { prop: "count_adjusted", func: "AVG" }] },
      ];
      for (const config of configs) {
        const body = await fetchPoItemsBody(db, fetch(config));
        ok(isRawJson(body), `an ok answer is JSON text: ${JSON.stringify(config)}`);
        const query = buildItemsQuery(DEMO_RESULTS_OBJECT_ID, parseFetchConfig(config));
        const rows = await db.query<Record<string, string | number>>(query.text, query.params);
        ok(rows.length > 1 || !("groupBys" in (config as object)), "the config has several items");
        deepEqual(items(bodyValue<PoItemsResult>(body)).items, rows, JSON.stringify(config));
        // Compact, as JSON.stringify writes it: no whitespace between rows, the same numbers.
        equal((body as { $json: string }).$json, JSON.stringify(bodyValue(body)));
      }
    },
  );

  await t.step("an invalid stored config is a ValidationError", async () => {
    await rejects(
      fetchPoItems(db, fetch({ values: [{ prop: "count", func: "MEDIAN" }] })),
      (error: Error) =>
        error instanceof ValidationError && error.field === "config.fetch.values[0].func",
    );
    await rejects(
      fetchPoItems(db, { resultsObjectId: DEMO_RESULTS_OBJECT_ID, config: {} }),
      ValidationError,
    );
  });
});
