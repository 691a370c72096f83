import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { ValidationError } from "./errors.ts";
import { buildItemsQuery, MAX_ITEMS, parseFetchConfig } from "./fetch_config.ts";

const VALID = {
  values: [{ prop: "count", func: "SUM" }],
  groupBys: ["admin_area_3", "period_id"],
  filters: [{ col: "indicator_id", vals: ["anc1", "anc4"] }],
  periodFilter: { kind: "last_n_months", n: 12 },
};

/** Replaces one field of VALID (a path of keys and indexes) with `value`. */
function withField(path: (string | number)[], value: unknown): unknown {
  const copy = structuredClone(VALID) as Record<string | number, unknown>;
  let target = copy;
  for (const key of path.slice(0, -1)) target = target[key] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (value === undefined) delete target[last];
  else target[last] = value;
  return copy;
}

Deno.test("parseFetchConfig() accepts and normalizes a valid config", () => {
  deepEqual(parseFetchConfig(VALID), VALID);
  deepEqual(
    parseFetchConfig({
      values: [{ prop: "outlier", func: "COUNT" }],
      filters: [{ col: "period_id", vals: [202401, "202402"] }, { col: "facility_id", vals: [42] }],
      periodFilter: { kind: "between", min: "202301", max: 202412 },
    }),
    {
      values: [{ prop: "outlier", func: "COUNT" }],
      groupBys: [],
      filters: [{ col: "period_id", vals: [202401, 202402] }, { col: "facility_id", vals: ["42"] }],
      periodFilter: { kind: "between", min: 202301, max: 202412 },
    },
  );
  deepEqual(parseFetchConfig({ ...VALID, periodFilter: null }).periodFilter, undefined);
});

Deno.test("parseFetchConfig() rejects each bad field with a ValidationError naming it", () => {
  const cases: [unknown, string][] = [
    [null, ""],
    [[], ""],
    [{ ...VALID, extra: 1 }, "extra"],
    [withField(["values"], undefined), "values"],
    [withField(["values"], []), "values"],
    [withField(["values"], "count"), "values"],
    [withField(["values", 0], "count"), "values[0]"],
    [withField(["values", 0, "prop"], "password"), "values[0].prop"],
    [withField(["values", 0, "prop"], "count; DROP TABLE facilities"), "values[0].prop"],
    [withField(["values", 0, "func"], "DROP"), "values[0].func"],
    [withField(["values", 0, "func"], "sum"), "values[0].func"],
    [withField(["values", 0, "alias"], "x"), "values[0].alias"],
    [withField(["values", 1], { prop: "count", func: "AVG" }), "values[1].prop"],
    [withField(["groupBys"], "admin_area_3"), "groupBys"],
    [withField(["groupBys", 0], "facility_name"), "groupBys[0]"],
    [withField(["groupBys", 1], "admin_area_3"), "groupBys[1]"],
    [
      withField(["groupBys"], [
        "admin_area_2",
        "admin_area_3",
        "admin_area_4",
        "indicator_id",
        "period_id",
      ]),
      "groupBys",
    ],
    [withField(["filters", 0, "col"], "1=1) OR (1"), "filters[0].col"],
    [withField(["filters", 0, "vals"], []), "filters[0].vals"],
    [withField(["filters", 0, "vals"], "anc1"), "filters[0].vals"],
    [
      withField(["filters", 0, "vals"], Array.from({ length: 1001 }, (_, i) => `v${i}`)),
      "filters[0].vals",
    ],
    [withField(["filters", 0, "vals", 1], { $ne: 1 }), "filters[0].vals[1]"],
    [withField(["filters", 0, "vals", 1], 1.5), "filters[0].vals[1]"],
    [withField(["filters", 0, "vals", 1], "x".repeat(201)), "filters[0].vals[1]"],
    [withField(["filters", 0], { col: "period_id", vals: [202413] }), "filters[0].vals[0]"],
    [withField(["filters", 0], { col: "period_id", vals: ["2024-01"] }), "filters[0].vals[0]"],
    [withField(["filters", 0, "op"], "LIKE"), "filters[0].op"],
    [withField(["periodFilter"], "last_year"), "periodFilter"],
    [withField(["periodFilter", "kind"], "since"), "periodFilter.kind"],
    [withField(["periodFilter", "n"], 0), "periodFilter.n"],
    [withField(["periodFilter", "n"], 601), "periodFilter.n"],
    [withField(["periodFilter", "n"], "12"), "periodFilter.n"],
    [withField(["periodFilter"], { kind: "between", min: 202401 }), "periodFilter.max"],
    [
      withField(["periodFilter"], { kind: "between", min: 202500, max: 202512 }),
      "periodFilter.min",
    ],
    [
      withField(["periodFilter"], { kind: "between", min: 202412, max: 202401 }),
      "periodFilter.min",
    ],
    [
      withField(["periodFilter"], { kind: "between", min: 202401, max: 202412, n: 1 }),
      "periodFilter.n",
    ],
  ];
  for (const [input, field] of cases) {
    throws(() => parseFetchConfig(input), (error: Error) => {
      ok(error instanceof ValidationError, `${JSON.stringify(input)}: ${error}`);
      equal(error.code, "VALIDATION_FAILED");
      equal(error.field ?? "", field, error.message);
      if (field) ok(error.message.includes(`'${field}'`), error.message);
      return true;
    });
  }
});

Deno.test("buildItemsQuery() never interpolates user values into the SQL text", () => {
  const hostile = ["anc1'; DROP TABLE facilities; --", 'x" OR 1=1 --', "$$ evil $$", "Ungogo"];
  const config = parseFetchConfig({
    values: [{ prop: "count_adjusted", func: "AVG" }, { prop: "count", func: "COUNT" }],
    groupBys: ["ownership", "indicator_id"],
    filters: [
      { col: "indicator_id", vals: hostile },
      { col: "admin_area_3", vals: ["Ungogo", "Kano Municipal"] },
      { col: "period_id", vals: [202401, 202402] },
    ],
    periodFilter: { kind: "between", min: 202301, max: 202412 },
  });
  const { text, params } = buildItemsQuery("ro_1' --", config);
  for (const value of [...hostile, "Kano Municipal", "ro_1", "202401", "202301", "202412"]) {
    ok(!text.includes(value), `SQL contains ${value}:\n${text}`);
  }
  deepEqual(params, [
    "ro_1' --",
    ...hostile,
    "Ungogo",
    "Kano Municipal",
    202401,
    202402,
    202301,
    202412,
  ]);
  ok(text.includes("JOIN facilities f ON f.facility_id = r.facility_id"));
  ok(text.includes("r.indicator_id IN ($2::text, $3::text, $4::text, $5::text)"), text);
  ok(text.includes("r.period_id IN ($8::int, $9::int)"), text);
  ok(text.includes("r.period_id BETWEEN $10::int AND $11::int"), text);
  ok(text.includes(`avg(r.count_adjusted)::float8 AS "count_adjusted"`), text);
  ok(text.includes(`count(r.count)::int AS "count"`), text);
  ok(text.endsWith(`LIMIT ${MAX_ITEMS + 1}`));
});

Deno.test("buildItemsQuery() joins facilities only when needed and pairs wards with LGAs", () => {
  const { text, params } = buildItemsQuery(
    "ro",
    parseFetchConfig({
      values: [{ prop: "count", func: "SUM" }],
      groupBys: ["admin_area_4"],
      periodFilter: { kind: "last_n_months", n: 6 },
    }),
  );
  ok(!text.includes("JOIN facilities"), text);
  ok(text.includes(`r.admin_area_3 AS "admin_area_3", r.admin_area_4 AS "admin_area_4"`), text);
  ok(text.includes("GROUP BY 1, 2"), text);
  ok(text.includes("period_add_months("), text);
  deepEqual(params, ["ro", 6]);

  const total = buildItemsQuery(
    "ro",
    parseFetchConfig({ values: [{ prop: "count", func: "MAX" }] }),
  );
  ok(total.text.includes("HAVING count(*) > 0"), total.text);
  ok(!total.text.includes("GROUP BY"), total.text);
});
