/**
 * The client's pure logic, in Deno: cache keys, versions from events, chart series, routes,
 * the overview's refresh time, the release check. (What needs a browser, IndexedDB and
 * the event stream, is tested in Chromium: `client/browser_test.ts`.)
 */
import assert from "node:assert/strict";
import { chartModel, chartSummary } from "./src/chart_data.ts";
import {
  compactNumber,
  formatNumber,
  type Labels,
  measureOf,
  monthIndex,
  monthLabel,
  periodOfMonthIndex,
  valueText,
} from "./src/labels.ts";
import {
  filterRows,
  itemsCsv,
  longTable,
  pageOf,
  pivotColumn,
  sortRows,
  wideTable,
} from "./src/table_model.ts";
import { cacheKey, canonicalJson, keyStem, uniquenessHash } from "./src/hash.ts";
import { nextOverviewFetch } from "./src/refresh.ts";
import { releaseChanged, releaseOf } from "./src/release.ts";
import { parseRoute, projectPath } from "./src/routes.ts";
import {
  applyEvent,
  cachesReachedBy,
  poDetailVersion,
  poItemsVersion,
  poListVersion,
  type ServerEvent,
  type VersionState,
} from "./src/versions.ts";

const STATE: VersionState = {
  structure: "3",
  datasets: { hmis: "2", hfa: "1" },
  projects: {
    demo: {
      modules: { m001: "2026-01-01T00:00:00.000000Z", m002: null },
      presentationObjects: { po_a: "2026-01-01T00:00:00.000001Z" },
    },
  },
};
/** An event of the stream: a module run unless `fields` say otherwise (the fields a type needs). */
const event = (fields: Record<string, unknown>): ServerEvent => ({
  type: "module_run",
  seq: 1,
  eventId: "e1",
  entity: "module",
  affected: [],
  origin: "test",
  at: 0,
  ...fields,
} as unknown as ServerEvent);
/** An edit of `demo`'s `po_a` to `version`. */
const poEdited = (version: string) =>
  event({ type: "presentation_object_updated", projectId: "demo", poId: "po_a", version });

Deno.test("cacheKey() is <cache>/<16 hex>::<version>, the same for reordered params", () => {
  const key = cacheKey("po_items", { projectId: "demo", poId: "po_a" }, "v1|v2");
  assert.match(key, /^po_items\/[0-9a-f]{16}::v1\|v2$/);
  assert.equal(key, cacheKey("po_items", { poId: "po_a", projectId: "demo" }, "v1|v2"));
  assert.notEqual(key, cacheKey("po_items", { projectId: "demo", poId: "po_b" }, "v1|v2"));
  assert.equal(keyStem(key), key.slice(0, key.length - "v1|v2".length));
  assert.equal(canonicalJson({ b: [{ d: 1, c: 2 }], a: 1 }), '{"a":1,"b":[{"c":2,"d":1}]}');
  assert.equal(uniquenessHash({ a: 1 }), uniquenessHash({ a: 1 }));
});

Deno.test("applyEvent() moves versions forward only, and returns the same state otherwise", () => {
  const run = applyEvent(
    STATE,
    event({ projectId: "demo", moduleId: "m001", version: "2026-02-01T00:00:00.000000Z" }),
  );
  assert.notEqual(run, STATE);
  assert.equal(run.projects.demo.modules.m001, "2026-02-01T00:00:00.000000Z");
  assert.equal(STATE.projects.demo.modules.m001, "2026-01-01T00:00:00.000000Z", "not mutated");
  const older = event({
    projectId: "demo",
    moduleId: "m001",
    version: "2025-01-01T00:00:00.000000Z",
  });
  assert.equal(applyEvent(run, older), run);
  assert.equal(
    applyEvent(STATE, event({ projectId: "other", moduleId: "m001", version: "x" })),
    STATE,
  );
  const edit = applyEvent(STATE, poEdited("2026-03-01T00:00:00.000000Z"));
  assert.equal(edit.projects.demo.presentationObjects.po_a, "2026-03-01T00:00:00.000000Z");
  const dataset = applyEvent(
    STATE,
    event({ type: "dataset_imported", datasetId: "hmis", version: "10" }),
  );
  assert.equal(dataset.datasets.hmis, "10", "counters compare as numbers (10 > 2)");
  assert.equal(applyEvent(STATE, event({ type: "structure_imported", version: "2" })), STATE);
  assert.equal(applyEvent(STATE, event({ type: "invalidated", entity: "module" })), STATE);
});

Deno.test("versions of the browser caches: items follow the PO and its module; list and detail the POs", () => {
  const po = { poId: "po_a", moduleId: "m001" };
  assert.equal(
    poItemsVersion(STATE, "demo", po),
    "2026-01-01T00:00:00.000001Z|2026-01-01T00:00:00.000000Z",
  );
  assert.equal(
    poItemsVersion(STATE, "demo", { poId: "po_a", moduleId: "m002" }),
    "2026-01-01T00:00:00.000001Z|never",
  );
  assert.equal(poItemsVersion(STATE, "demo", { poId: "po_a", moduleId: "nope" }), undefined);
  assert.equal(poItemsVersion(undefined, "demo", po), undefined);
  const run = applyEvent(STATE, event({ projectId: "demo", moduleId: "m001", version: "2027" }));
  assert.notEqual(poItemsVersion(run, "demo", po), poItemsVersion(STATE, "demo", po));
  assert.equal(poDetailVersion(run, "demo", "po_a"), poDetailVersion(STATE, "demo", "po_a"));
  assert.equal(poListVersion(run, "demo"), poListVersion(STATE, "demo"));
  const edit = applyEvent(STATE, poEdited("2027"));
  assert.notEqual(poListVersion(edit, "demo"), poListVersion(STATE, "demo"));
  assert.deepEqual(cachesReachedBy(["module", "results_object", "presentation_object_item"]), [
    "po_items",
  ]);
  assert.deepEqual(cachesReachedBy(["presentation_object", "presentation_object_item"]), [
    "po_detail",
    "po_items",
    "po_list",
  ]);
  assert.deepEqual(cachesReachedBy(["windowed_aggregate"]), []);
});

const LABELS: Labels = {
  version: "1",
  columns: {
    admin_area_3: "LGA",
    admin_area_4: "Ward",
    indicator_id: "Indicator",
    period_id: "Month",
  },
  adminLevels: { "3": "LGA" },
  values: {
    count: { label: "Reported count", description: "" },
    count_adjusted: { label: "Adjusted count", description: "" },
  },
  aggregates: { SUM: "Total", AVG: "Average", MAX: "Maximum" },
  measures: {
    "SUM(count)": { label: "Total reported count", unit: "services", format: "integer" },
    "SUM(count_adjusted)": { label: "Total adjusted count", unit: "services", format: "integer" },
    "AVG(count_adjusted)": {
      label: "Average adjusted count",
      unit: "services per facility-month",
      format: "decimal",
    },
    "MAX(count)": {
      label: "Maximum reported count",
      unit: "services in one facility-month",
      format: "integer",
    },
  },
  indicators: { anc1: "ANC first visit", anc4: "ANC fourth visit" },
  periods: { "202412": "Dec 2024", "202501": "Jan 2025" },
};

Deno.test("chartModel(): categories labelled, bars largest first (or by name), series from the series column", () => {
  const items = [
    { admin_area_3: "B", indicator_id: "anc4", count: 2 },
    { admin_area_3: "B", indicator_id: "anc1", count: 1 },
    { admin_area_3: "A", indicator_id: "anc1", count: 30 },
  ];
  const display = { type: "bar", x: "admin_area_3", series: "indicator_id" };
  const sum = [{ prop: "count", func: "SUM" }];
  const model = chartModel(display, sum, items, LABELS)!;
  assert.equal(model.xTitle, "LGA");
  assert.deepEqual(model.labels, ["A", "B"], "largest first");
  assert.deepEqual(model.panels, [{
    title: "Total reported count",
    unit: "services",
    format: "integer",
    series: [
      { label: "ANC first visit", values: [30, 1] },
      { label: "ANC fourth visit", values: [null, 2] },
    ],
  }]);
  assert.deepEqual(chartModel(display, sum, items, LABELS, { order: "name" })!.labels, ["B", "A"]);
  assert.equal(chartModel({ type: "table" }, sum, items, LABELS), undefined);
  assert.equal(chartModel({ type: "bar" }, sum, [], LABELS), undefined);
  // A ward is shown with its LGA (ward names repeat across LGAs).
  const wards = chartModel({ type: "bar", x: "admin_area_4" }, sum, [
    { admin_area_3: "Kano", admin_area_4: "Dala", count: 1 },
  ], LABELS)!;
  assert.deepEqual(wards.labels, ["Dala (Kano)"]);
});

Deno.test("chartModel(): measures of different units get their own panel (the SBA object)", () => {
  const items = [
    { period_id: 202501, count_adjusted: 12.5, count: 140 },
    { period_id: 202412, count_adjusted: 11, count: 90 },
  ];
  const model = chartModel(
    { type: "timeseries", x: "period_id" },
    [
      { prop: "count_adjusted", func: "AVG" },
      { prop: "count", func: "MAX" },
    ],
    items,
    LABELS,
  )!;
  assert.equal(model.kind, "timeseries");
  assert.deepEqual(model.labels, ["Dec 2024", "Jan 2025"]);
  assert.deepEqual(model.xs, [monthIndex(202412), monthIndex(202501)]);
  assert.equal(model.xs[1] - model.xs[0], 1, "consecutive months");
  assert.deepEqual(model.panels.map((p) => [p.title, p.unit, p.series[0].values]), [
    ["Average adjusted count", "services per facility-month", [11, 12.5]],
    ["Maximum reported count", "services in one facility-month", [90, 140]],
  ]);
  assert.match(
    chartSummary(model, formatNumber),
    /^Line chart by month, Dec 2024 to Jan 2025: Average adjusted count \(services per facility-month\) for Average adjusted count; highest 12\.5 at Jan 2025\./,
  );
  // Same unit: one panel.
  const both = chartModel(
    { type: "bar", x: "indicator_id" },
    [
      { prop: "count", func: "SUM" },
      { prop: "count_adjusted", func: "SUM" },
    ],
    [{ indicator_id: "anc1", count: 5, count_adjusted: 4 }],
    LABELS,
  )!;
  assert.equal(both.panels.length, 1);
  assert.equal(both.panels[0].title, "Total reported count and total adjusted count");
  assert.deepEqual(both.labels, ["ANC first visit"]);
});

Deno.test("labels: months without time zones, numbers, measures, values", () => {
  assert.equal(monthLabel(202501), "Jan 2025");
  assert.equal(monthLabel(202412), "Dec 2024");
  assert.equal(periodOfMonthIndex(monthIndex(202412) + 1), 202501);
  assert.equal(valueText(LABELS, "period_id", 202503), "Mar 2025", "outside the dictionary too");
  assert.equal(valueText(LABELS, "indicator_id", "anc4"), "ANC fourth visit");
  assert.equal(valueText(LABELS, "admin_area_3", "Dala"), "Dala");
  assert.equal(compactNumber(1_234_567, "integer"), "1.2M");
  assert.equal(compactNumber(0.25, "percent"), "25%");
  assert.equal(formatNumber(1_234_567, "integer"), "1,234,567");
  assert.equal(formatNumber(12.34, "decimal"), "12.3");
  assert.equal(formatNumber(null, "integer"), "–");
  assert.equal(
    measureOf(LABELS, { prop: "count_adjusted", func: "AVG" }).label,
    "Average adjusted count",
  );
  assert.equal(
    measureOf(LABELS, { prop: "count", func: "MIN" }).label,
    "Min reported count",
    "a measure the dictionary lacks still reads as words",
  );
});

Deno.test("table model: long and wide layouts, filter, sort, pages, CSV", () => {
  const items = [
    { admin_area_3: "Dala", indicator_id: "anc1", count: 3 },
    { admin_area_3: "Dala", indicator_id: "anc4", count: 1 },
    { admin_area_3: "Ajingi", indicator_id: "anc1", count: 7 },
  ];
  const values = [{ prop: "count", func: "SUM" }];
  const long = longTable(items, values, LABELS);
  assert.deepEqual(long.columns.map((c) => c.label), ["LGA", "Indicator", "Total reported count"]);
  assert.equal(pivotColumn(["admin_area_3", "indicator_id"]), "indicator_id");
  assert.equal(pivotColumn(["admin_area_3"]), undefined);
  const wide = wideTable(items, values, LABELS, "indicator_id");
  assert.deepEqual(wide.columns.map((c) => c.label), [
    "LGA",
    "ANC first visit",
    "ANC fourth visit",
  ]);
  assert.deepEqual(wide.rows.map((r) => Object.values(r)), [["Dala", 3, 1], ["Ajingi", 7, null]]);
  assert.equal(filterRows(long.rows, long.columns, LABELS, "fourth").length, 1, "by label");
  assert.equal(filterRows(long.rows, long.columns, LABELS, "  ").length, 3);
  const byCount = sortRows(long.rows, long.columns[2], "descending", LABELS);
  assert.deepEqual(byCount.map((r) => r.count), [7, 3, 1]);
  const byIndicator = sortRows(long.rows, long.columns[1], "ascending", LABELS);
  assert.deepEqual(byIndicator.map((r) => r.indicator_id), ["anc1", "anc1", "anc4"]);
  const withEmpty = sortRows(wide.rows, wide.columns[2], "ascending", LABELS);
  assert.equal(withEmpty[1][wide.columns[2].key], null, "empty cells last");
  assert.deepEqual(pageOf([1, 2, 3, 4, 5], 2, 2), {
    rows: [3, 4],
    page: 2,
    pages: 3,
    first: 3,
    last: 4,
  });
  assert.equal(pageOf([1, 2, 3], 9, 2).page, 2, "clamped");
  assert.equal(
    itemsCsv([{ a: 'x "q", y', n: 1.5 }, { a: "=1+1", n: -2 }]),
    '\ufeff"a","n"\r\n"x ""q"", y",1.5\r\n"\'=1+1",-2\r\n',
  );
});

Deno.test("parseRoute(): the app's pages", () => {
  assert.deepEqual(parseRoute("/", ""), {
    page: "projects",
    projectId: undefined,
    poId: undefined,
  });
  assert.deepEqual(parseRoute("/projects/demo/po_a", ""), {
    page: "projects",
    projectId: "demo",
    poId: "po_a",
  });
  assert.deepEqual(parseRoute("/login", "?token=abc"), { page: "login", token: "abc" });
  assert.deepEqual(parseRoute("/admin/caches", ""), { page: "caches" });
  assert.deepEqual(parseRoute("/nope/x", ""), { page: "not_found", path: "/nope/x" });
  assert.equal(projectPath("a b", "c"), "/projects/a%20b/c");
});

Deno.test("nextOverviewFetch(): a current value waits for the boundary plus the refresh; an older one retries soon, backing off", () => {
  const boundary = Date.parse("2026-01-01T00:05:00.000Z");
  const now = Date.parse("2026-01-01T00:04:00.000Z");
  const answer = {
    xCache: "HIT",
    computedAtMs: Date.parse("2026-01-01T00:00:00.120Z"),
    nextBoundaryMs: boundary,
    windowMs: 300_000,
    refreshMs: 120,
  };
  const zero = { random: () => 0 };
  assert.deepEqual(nextOverviewFetch(answer, now, 0, zero), { current: true, delayMs: 61_120 });
  assert.equal(
    nextOverviewFetch(answer, now, 0, { random: () => 0.5, marginMs: 0 }).delayMs,
    60_620,
  );
  const stale = { ...answer, xCache: "STALE" };
  assert.deepEqual(nextOverviewFetch(stale, now, 0, zero), { current: false, delayMs: 200 });
  assert.equal(nextOverviewFetch({ ...stale, refreshMs: 2000 }, now, 2, zero).delayMs, 4500);
  assert.equal(nextOverviewFetch({ ...stale, refreshMs: 2000 }, now, 20, zero).delayMs, 15_000);
  // A HIT computed before the window began (a stale copy) is not current either.
  const old = { ...answer, computedAtMs: boundary - 400_000 };
  assert.equal(nextOverviewFetch(old, now, 0, zero).current, false);
  assert.deepEqual(
    nextOverviewFetch({ ...answer, nextBoundaryMs: NaN }, now, 0, { fallbackMs: 5 }),
    { current: true, delayMs: 5 },
  );
});

Deno.test("releaseChanged(): a first visit is not a change; another version or cache format is", () => {
  const current = releaseOf({ serverVersion: "0.2.0", cacheFormatVersion: 1 });
  assert.equal(current, "0.2.0+cache1");
  assert.equal(releaseChanged(null, current), false);
  assert.equal(releaseChanged(current, current), false);
  assert.equal(releaseChanged("0.1.0+cache1", current), true);
  assert.equal(releaseChanged("0.2.0+cache0", current), true);
});
