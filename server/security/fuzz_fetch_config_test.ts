/**
 * Property-based fuzzing (fast-check) of presentation objects' fetch configs, the one
 * input that shapes SQL: arbitrary JSON, valid configs, near misses of valid configs (SQL-ish
 * and unicode strings, wrong types, unknown fields, huge arrays, out-of-range periods).
 *
 * - `parseFetchConfig` accepts or throws a `ValidationError` with a message, nothing else;
 * - for an accepted config, the SQL text of `buildItemsQuery` depends only on the
 *   allowlisted structure: the same with every value replaced, made only of allowlisted
 *   identifiers and SQL keywords, every value a `$n` parameter;
 * - through the app (`PATCH` as an administrator, then `GET …/items`): every answer is 200
 *   or a 4xx with a JSON `message`, never a 5xx, and no input string ever appears in the
 *   text of a statement the server ran.
 *
 * `FUZZ_RUNS` cases per property (see `_fuzz.ts`).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  AGG_FUNCS,
  buildItemsQuery,
  DISAGGREGATION_COLUMNS,
  type FetchConfig,
  MAX_FILTER_VALUES,
  parseFetchConfig,
  ValidationError,
  VALUE_PROPS,
} from "../model/mod.ts";
import { ADMIN_TOKEN, createSecurityFixture, type SecurityFixture } from "./_fixture.ts";
import { fuzzParameters, fuzzText, MARKER, nastyString } from "./_fuzz.ts";

const period = fc.integer({ min: 1990, max: 2100 }).chain((year) =>
  fc.integer({ min: 1, max: 12 }).map((month) => year * 100 + month)
);

const filter = fc.constantFrom(...DISAGGREGATION_COLUMNS).chain((col) =>
  fc.record({
    col: fc.constant(col),
    vals: col === "period_id"
      ? fc.array(fc.oneof(period, period.map(String)), { minLength: 1, maxLength: 5 })
      : fc.array(fc.oneof({ weight: 4, arbitrary: fuzzText }, fc.integer()), {
        minLength: 1,
        maxLength: 5,
      }),
  })
);

/** Configs `parseFetchConfig` should accept (when their strings are storable). */
const validConfig = fc.record({
  values: fc.uniqueArray(
    fc.record({ prop: fc.constantFrom(...VALUE_PROPS), func: fc.constantFrom(...AGG_FUNCS) }),
    { minLength: 1, maxLength: 3, selector: (v) => v.prop },
  ),
  groupBys: fc.uniqueArray(fc.constantFrom(...DISAGGREGATION_COLUMNS), { maxLength: 4 }),
  filters: fc.array(filter, { maxLength: 3 }),
  periodFilter: fc.option(
    fc.oneof(
      fc.record({ kind: fc.constant("last_n_months"), n: fc.integer({ min: 1, max: 600 }) }),
      fc.tuple(period, period).map(([a, b]) => ({
        kind: "between",
        min: Math.min(a, b),
        max: Math.max(a, b),
      })),
    ),
    { nil: undefined },
  ),
}, { requiredKeys: ["values"] });

type Json = Record<string, unknown>;

/** One change that makes a valid config (probably) invalid. */
const mutation: fc.Arbitrary<(config: Json) => unknown> = fc.oneof(
  fc.oneof(fuzzText, fc.constantFrom("sum", "SUM(", "DROP", "SUM; --", "")).map(
    (s) => (c: Json) => ({ ...c, values: [{ prop: "count", func: s }] }),
  ),
  fuzzText.map((s) => (c: Json) => ({ ...c, values: [{ prop: s, func: "SUM" }] })),
  fuzzText.map((s) => (c: Json) => ({ ...c, [s]: 1 })),
  fuzzText.map((s) => (c: Json) => ({ ...c, groupBys: ["indicator_id", s] })),
  fuzzText.map((s) => (c: Json) => ({ ...c, filters: [{ col: s, vals: ["a"] }] })),
  fuzzText.map((s) => (c: Json) => ({
    ...c,
    filters: [{ col: "indicator_id", vals: ["a"], [s]: 1 }],
  })),
  fc.jsonValue().map((v) => (c: Json) => ({ ...c, filters: [{ col: "ownership", vals: [v] }] })),
  fc.jsonValue().map((v) => (c: Json) => ({ ...c, filters: [{ col: "period_id", vals: [v] }] })),
  fc.jsonValue().map((v) => (c: Json) => ({ ...c, values: v })),
  fc.jsonValue().map((v) => (c: Json) => ({ ...c, groupBys: v })),
  fc.jsonValue().map((v) => (c: Json) => ({ ...c, periodFilter: v })),
  fc.constant((c: Json) => ({
    ...c,
    filters: [{ col: "indicator_id", vals: Array(MAX_FILTER_VALUES + 1).fill("anc1") }],
  })),
  fc.constant((c: Json) => ({ ...c, filters: Array(11).fill({ col: "ownership", vals: ["x"] }) })),
  fc.constant((c: Json) => ({ ...c, groupBys: [...DISAGGREGATION_COLUMNS] })),
  fc.constant((c: Json) => ({
    ...c,
    values: [...VALUE_PROPS, ...VALUE_PROPS].map((prop) => ({ prop, func: "SUM" })),
  })),
  fc.constant((c: Json) => ({ ...c, filters: [{ col: "ownership", vals: ["x".repeat(201)] }] })),
  fc.oneof(
    fc.constantFrom(0, -1, 601, 1.5, "12", null, 1e309, Number.MAX_SAFE_INTEGER + 2),
    fc.double(),
  ).map((n) => (c: Json) => ({ ...c, periodFilter: { kind: "last_n_months", n } })),
  fc.tuple(fc.jsonValue(), fc.jsonValue()).map(([min, max]) => (c: Json) => ({
    ...c,
    periodFilter: { kind: "between", min, max },
  })),
  fc.constant((c: Json) => ({ ...c, periodFilter: { kind: "between", min: 202512, max: 202401 } })),
  fc.constant((c: Json) => [c]),
  fc.integer({ min: 60, max: 3000 }).map((depth) => (c: Json) => ({
    ...c,
    values: JSON.parse("[".repeat(depth) + "]".repeat(depth)),
  })),
  nastyString.map((s) => () => s),
);

const nearMiss = fc.tuple(validConfig, mutation).map(([config, mutate]) => mutate(config as Json));

/** Anything a client could put in `config.fetch`. */
const anyFetchInput: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 2, arbitrary: validConfig },
  { weight: 4, arbitrary: nearMiss },
  { weight: 1, arbitrary: fc.jsonValue() },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 6 }).map((v) => ({ values: v })) },
);

/** Identifiers and keywords the items query may contain: nothing else. */
const SQL_VOCABULARY = new Set([
  ...DISAGGREGATION_COLUMNS,
  ...VALUE_PROPS,
  ..."SELECT AS FROM JOIN ON WHERE AND IN BETWEEN GROUP BY ORDER HAVING LIMIT".split(" "),
  ..."results_hmis facilities r f m results_object_id period_add_months".split(" "),
  ..."sum avg count min max float8 int text".split(" "),
]);

/** `config` with every user value replaced by a constant of the same kind. */
function withValuesReplaced(config: FetchConfig): FetchConfig {
  return {
    ...config,
    filters: config.filters.map((f) => ({
      col: f.col,
      vals: f.vals.map((v) => typeof v === "number" ? 200001 : "x"),
    })),
    periodFilter: config.periodFilter?.kind === "between"
      ? { kind: "between", min: 200001, max: 200001 }
      : config.periodFilter && { kind: "last_n_months", n: 1 },
  };
}

Deno.test("parseFetchConfig(): any input is accepted or refused with a ValidationError and a message, nothing else", () => {
  fc.assert(
    fc.property(anyFetchInput, (input) => {
      try {
        parseFetchConfig(input);
      } catch (error) {
        assert.ok(error instanceof ValidationError, `not a ValidationError: ${error}`);
        assert.ok(error.message.length > 0);
        assert.ok(error.field === undefined || typeof error.field === "string");
      }
    }),
    fuzzParameters(5),
  );
});

Deno.test("buildItemsQuery(): the SQL text depends only on the allowlisted structure; every value is a parameter", () => {
  fc.assert(
    fc.property(anyFetchInput, fuzzText, (input, resultsObjectId) => {
      let config: FetchConfig;
      try {
        config = parseFetchConfig(input);
      } catch {
        return; // refused: no SQL
      }
      const query = buildItemsQuery(resultsObjectId, config);
      const skeleton = buildItemsQuery("x", withValuesReplaced(config));
      assert.equal(query.text, skeleton.text, "a value changed the SQL text");
      assert.ok(!query.text.includes(MARKER), "an input string is in the SQL text");
      for (const word of query.text.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []) {
        assert.ok(SQL_VOCABULARY.has(word), `'${word}' is not an allowlisted identifier`);
      }
      const placeholders = new Set(query.text.match(/\$\d+/g));
      assert.equal(placeholders.size, query.params.length, "one $n per parameter");
      assert.equal(query.params[0], resultsObjectId);
      for (const filter of config.filters) {
        for (const value of filter.vals) assert.ok(query.params.includes(value));
      }
    }),
    fuzzParameters(5),
  );
});

let fixture: SecurityFixture | undefined;

async function setup(): Promise<SecurityFixture> {
  fixture ??= await createSecurityFixture();
  return fixture;
}

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };

/**
 * PATCHes the fixture's presentation object with `body` (a value, or JSON text as is);
 * returns status and JSON body.
 */
async function patch(f: SecurityFixture, body: unknown) {
  const response = await f.app.request(
    `/api/projects/${f.ids.projectId}/presentation_objects/${f.ids.poId}`,
    {
      method: "PATCH",
      headers: admin,
      body: typeof body === "string" ? body : JSON.stringify(body),
    },
  );
  return { status: response.status, json: await response.json() };
}

Deno.test("through the app: a fuzzed config is 200 or a 4xx with a message, its items never a 5xx, and no input reaches SQL text", async () => {
  const f = await setup();
  const detail = await (await f.app.request(
    `/api/projects/${f.ids.projectId}/presentation_objects/${f.ids.poId}`,
    { headers: admin },
  )).json();
  let accepted = 0;
  await fc.assert(
    fc.asyncProperty(
      anyFetchInput,
      fc.dictionary(fuzzText, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 2 }),
      async (fetch, extra) => {
        const from = f.queries.length;
        const patched = await patch(f, { config: { ...detail.config, ...extra, fetch } });
        assert.ok(
          patched.status === 200 || (patched.status >= 400 && patched.status < 500),
          `PATCH: ${patched.status} ${JSON.stringify(patched.json)}`,
        );
        if (patched.status !== 200) {
          assert.equal(typeof patched.json.message, "string");
          assert.match(String(patched.json.field ?? "config"), /^config/);
        } else {
          accepted++;
          const items = await f.app.request(
            `/api/projects/${f.ids.projectId}/presentation_objects/${f.ids.poId}/items`,
            { headers: admin },
          );
          const body = await items.json();
          assert.equal(items.status, 200, JSON.stringify(body));
          assert.ok(["ok", "too_many_items", "no_data_available"].includes(body.status));
        }
        for (const { text } of f.queries.slice(from)) {
          assert.ok(!text.includes(MARKER), `input in SQL text:\n${text}`);
        }
      },
    ),
    fuzzParameters(0.5),
  );
  assert.ok(accepted > 0, "some fuzzed configs were valid and their items were read");
});

Deno.test("PATCH with a NUL or an unpaired surrogate in the label, the config or a filter value, or a config nested 20,000 deep, is a 400 naming the field (was a 500)", async () => {
  const f = await setup();
  const { config } = await (await f.app.request(
    `/api/projects/${f.ids.projectId}/presentation_objects/${f.ids.poId}`,
    { headers: admin },
  )).json();
  const filterWith = (value: string) => ({
    ...config,
    fetch: { ...config.fetch, filters: [{ col: "indicator_id", vals: ["anc1", value] }] },
  });
  const cases: [unknown, string][] = [
    [{ label: "a\u0000b" }, "label"],
    [{ label: "a\ud800b" }, "label"],
    [{ config: { ...config, note: "x\u0000" } }, "config.note"],
    [{ config: { ...config, note: { deep: ["\udfff"] } } }, "config.note.deep[0]"],
    [{ config: { ...config, ["k\u0000"]: 1 } }, "config"],
    [{ config: filterWith("anc\u0000") }, "config.fetch.filters[0].vals[1]"],
    [{ config: filterWith("anc\ud83d") }, "config.fetch.filters[0].vals[1]"],
    // Under 64 KiB, but PostgreSQL's jsonb parser runs out of stack. Sent as text: a
    // 20,000-deep value is past what JSON.stringify can walk on a test worker's stack.
    [
      `{"config":${
        JSON.stringify({ ...config, deep: "@" }).replace(
          '"@"',
          "[".repeat(20_000) + "]".repeat(20_000),
        )
      }}`,
      "config",
    ],
  ];
  for (const [body, field] of cases) {
    const { status, json } = await patch(f, body);
    const shown = typeof body === "string" ? body : JSON.stringify(body);
    assert.equal(status, 400, `${shown.slice(0, 80)}: ${JSON.stringify(json)}`);
    assert.equal(json.field, field);
    assert.match(json.message, /NUL|surrogate|nest/);
  }
  // Well-formed unicode is fine.
  assert.equal((await patch(f, { label: "Réunion 😀 \u202e" })).status, 200);
});

Deno.test("fetch config fuzz teardown", async () => {
  if (!fixture) return;
  await fixture[Symbol.asyncDispose]();
  fixture = undefined;
});
