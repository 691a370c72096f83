/**
 * The client's pure logic, in Deno: cache keys, versions from events, chart series, routes,
 * the overview's refresh time, the release check. (What needs a browser, IndexedDB and
 * the event stream, is tested in Chromium: `client/browser_test.ts`.)
 */
import assert from "node:assert/strict";
import { chartData, periodToEpochS } from "./src/chart_data.ts";
import { cacheKey, canonicalJson, keyStem, uniquenessHash } from "./src/hash.ts";
import { refreshDelayMs } from "./src/refresh.ts";
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
const event = (fields: Partial<ServerEvent>): ServerEvent => ({
  type: "module_run",
  seq: 1,
  entity: "module",
  affected: [],
  at: 0,
  ...fields,
});

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
  const edit = applyEvent(STATE, {
    ...event({ type: "presentation_object_updated", projectId: "demo", poId: "po_a" }),
    version: "2026-03-01T00:00:00.000000Z",
  });
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
  const edit = applyEvent(STATE, {
    ...event({ type: "presentation_object_updated", projectId: "demo", poId: "po_a" }),
    version: "2027",
  });
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

Deno.test("chartData(): categories and series from the display config", () => {
  const items = [
    { lga: "B", ind: "anc4", n: 2 },
    { lga: "B", ind: "anc1", n: 1 },
    { lga: "A", ind: "anc1", n: 3 },
  ];
  assert.deepEqual(chartData({ type: "bar", x: "lga", series: "ind" }, items), {
    kind: "bar",
    xLabel: "lga",
    labels: ["B", "A"],
    xs: [0, 1],
    series: [{ label: "anc1", values: [1, 3] }, { label: "anc4", values: [2, null] }],
  });
  const two = chartData({ type: "bar", x: "ind" }, [{ ind: "anc1", count: 5, adjusted: 4 }]);
  assert.deepEqual(two?.series.map((s) => s.label), ["count", "adjusted"]);
  const months = chartData({ type: "timeseries", x: "period_id" }, [
    { period_id: 202402, v: 2 },
    { period_id: 202401, v: 1 },
  ]);
  assert.deepEqual(months?.labels, ["202401", "202402"]);
  assert.deepEqual(months?.xs, [periodToEpochS(202401), periodToEpochS(202402)]);
  assert.deepEqual(months?.series, [{ label: "v", values: [1, 2] }]);
  assert.equal(periodToEpochS(202401), Date.UTC(2024, 0, 1) / 1000);
  assert.equal(chartData({ type: "table" }, items), undefined);
  assert.equal(chartData({ type: "bar" }, []), undefined);
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

Deno.test("refreshDelayMs(): the window boundary plus the lag and jitter, never before the lag", () => {
  const now = Date.parse("2026-01-01T00:04:00.000Z");
  const boundary = "2026-01-01T00:05:00.000Z";
  assert.equal(refreshDelayMs(boundary, now, { random: () => 0 }), 62_000);
  assert.equal(refreshDelayMs(boundary, now, { random: () => 0.5, lagMs: 500 }), 61_000);
  assert.equal(refreshDelayMs(boundary, now + 120_000, { random: () => 0 }), 2000);
  assert.equal(refreshDelayMs(null, now), 60_000);
  assert.equal(refreshDelayMs("garbage", now, { fallbackMs: 5 }), 5);
});

Deno.test("releaseChanged(): a first visit is not a change; another version or cache format is", () => {
  const current = releaseOf({ serverVersion: "0.2.0", cacheFormatVersion: 1 });
  assert.equal(current, "0.2.0+cache1");
  assert.equal(releaseChanged(null, current), false);
  assert.equal(releaseChanged(current, current), false);
  assert.equal(releaseChanged("0.1.0+cache1", current), true);
  assert.equal(releaseChanged("0.2.0+cache0", current), true);
});
