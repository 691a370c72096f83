/**
 * What the web client needs from the server, on real Postgres (the small fixture): the
 * label dictionary, a module run's progress stream, the app's own 404 page, and the
 * overview's prewarm at each window boundary.
 */
import assert from "node:assert/strict";
import { StaleWhileRevalidate } from "../lib/mod.ts";
import { createApp } from "./app.ts";
import { createServerCaches } from "./caches.ts";
import { AGG_FUNCS, DISAGGREGATION_COLUMNS, VALUE_PROPS } from "./model/mod.ts";
import { OverviewWindows } from "./routes/overview.ts";
import { createTestDatabase, loadSmallFixture } from "./testing/pg.ts";
import { RedisStore } from "../lib/mod.ts";

const ADMIN = "analyst-api-admin";
const VIEWER = "analyst-api-viewer";
const quiet = () => {};

Deno.test("analyst API: labels, module-run progress, the app's 404, the overview prewarm", async (t) => {
  await using database = await createTestDatabase();
  await loadSmallFixture(database.db);
  const clientDir = await Deno.makeTempDir({ prefix: "wb-client-" });
  await Deno.writeTextFile(`${clientDir}/index.html`, "<!doctype html><title>app</title>");
  await Deno.writeTextFile(`${clientDir}/app-ABCD1234.js`, "console.log(1);");
  await Deno.writeTextFile(`${clientDir}/favicon.svg`, "<svg/>");
  try {
    const app = await createApp({
      db: database.db,
      caches: createServerCaches({ store: RedisStore.disabled(), log: quiet }),
      adminToken: ADMIN,
      viewerToken: VIEWER,
      instance: "analyst",
      log: quiet,
      clientDir: new URL(`file://${clientDir}/`),
    });
    const as = (token: string, headers: Record<string, string> = {}) => ({
      headers: { authorization: `Bearer ${token}`, ...headers },
    });

    await t.step("GET /api/labels names every column, measure, indicator and month", async () => {
      const response = await app.request("/api/labels", as(VIEWER));
      assert.equal(response.status, 200);
      const labels = await response.json();
      for (const column of DISAGGREGATION_COLUMNS) assert.ok(labels.columns[column], column);
      assert.equal(labels.columns.admin_area_3, "LGA");
      for (const func of AGG_FUNCS) {
        for (const prop of VALUE_PROPS) {
          const measure = labels.measures[`${func}(${prop})`];
          assert.ok(measure?.label && measure.unit && measure.format, `${func}(${prop})`);
        }
      }
      assert.equal(labels.measures["AVG(count_adjusted)"].label, "Average adjusted count");
      const indicators = await database.db.query<{ indicator_id: string; label: string }>(
        "SELECT indicator_id, label FROM indicators ORDER BY sort_order",
      );
      assert.deepEqual(
        Object.entries(labels.indicators),
        indicators.map((i) => [i.indicator_id, i.label]),
      );
      const [range] = await database.db.query<{ min: number; max: number }>(
        "SELECT min(period_id) AS min, max(period_id) AS max FROM dataset_hmis",
      );
      const periods = Object.keys(labels.periods);
      assert.equal(periods[0], String(range.min));
      assert.equal(periods[periods.length - 1], String(range.max));
      assert.equal(labels.periods["202501"], "Jan 2025");
      // Unchanged until the next import: a revalidation costs nothing.
      const etag = response.headers.get("etag")!;
      const again = await app.request("/api/labels", as(VIEWER, { "if-none-match": etag }));
      assert.equal(again.status, 304);
      assert.equal((await app.request("/api/labels")).status, 401);
    });

    await t.step("a module run streams its steps as JSON lines, then the run", async () => {
      const path = "/api/projects/demo/modules/m001/run";
      const ndjson = { accept: "application/x-ndjson", "content-type": "application/json" };
      const refused = await app.request(path, { method: "POST", ...as(VIEWER, ndjson) });
      assert.equal(refused.status, 403);
      const unknown = await app.request("/api/projects/demo/modules/nope/run", {
        method: "POST",
        ...as(ADMIN, ndjson),
      });
      assert.equal(unknown.status, 404);
      assert.equal((await unknown.json()).error, "not_found");

      const response = await app.request(path, { method: "POST", ...as(ADMIN, ndjson) });
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type") ?? "", /^application\/x-ndjson/);
      const lines = (await response.text()).trim().split("\n").map((line) => JSON.parse(line));
      const steps = lines.filter((l) => l.progress).map((l) => l.progress);
      assert.ok(steps.length >= 5, JSON.stringify(steps));
      assert.ok(steps.some((s) => /^Computing medians and outliers/.test(s.step)));
      const dones = steps.map((s) => s.done);
      assert.deepEqual(dones, [...dones].sort((a, b) => a - b), "steps only move forward");
      assert.ok(steps.every((s) => s.done < s.total));
      const last = lines[lines.length - 1];
      assert.ok(last.run?.lastRun && last.run.rows > 0, JSON.stringify(last));
      const [{ lastRun }] = await database.db.query<{ lastRun: string }>(
        `SELECT iso_ts(last_run) AS "lastRun" FROM modules WHERE module_id = 'm001'`,
      );
      assert.equal(last.run.lastRun, lastRun);
      // Without the header: one JSON answer, as scripts and wb expect.
      const plain = await app.request(path, { method: "POST", ...as(ADMIN) });
      assert.ok((await plain.json()).lastRun > lastRun);
    });

    await t.step("an unknown page opened in a browser is the app, with status 404", async () => {
      const page = await app.request("/reports/2025", as(VIEWER, { accept: "text/html" }));
      assert.equal(page.status, 404);
      assert.equal(await page.text(), "<!doctype html><title>app</title>");
      const api = await app.request("/api/reports", as(VIEWER, { accept: "text/html" }));
      assert.equal(api.status, 404);
      assert.equal((await api.json()).error, "not_found");
      const script = await app.request("/reports/2025", as(VIEWER));
      assert.equal(script.status, 404);
      assert.equal((await script.json()).error, "not_found");
    });

    await t.step("built files are served at /<name>; other names are the app's 404s", async () => {
      const script = await app.request("/app-ABCD1234.js");
      assert.equal(script.status, 200);
      assert.equal(script.headers.get("content-type"), "text/javascript; charset=utf-8");
      assert.equal(script.headers.get("cache-control"), "public, max-age=31536000, immutable");
      assert.equal(script.headers.get("x-content-type-options"), "nosniff");
      assert.equal(await script.text(), "console.log(1);");
      const icon = await app.request("/favicon.svg");
      assert.equal(icon.headers.get("cache-control"), "no-cache");
      assert.equal(await icon.text(), "<svg/>");
      const missing = await app.request("/app-FFFF0000.js");
      assert.equal(missing.status, 404);
      assert.equal((await missing.json()).error, "not_found");
      const page = await app.request("/app-FFFF0000.js", { headers: { accept: "text/html" } });
      assert.equal(page.status, 404);
      assert.equal(await page.text(), "<!doctype html><title>app</title>");
    });

    await t.step("the app's routes keep Hono's RegExpRouter (one regex match per request)", () => {
      // A pattern route at the root (as the client files once were) makes Hono's SmartRouter
      // fall back to its TrieRouter, which costs every request more to match.
      const router = (app as unknown as { router: { activeRouter?: { name: string } } }).router;
      assert.equal(router.activeRouter?.name, "RegExpRouter");
    });

    await t.step("the prewarm refreshes a watched overview at the window boundary", async () => {
      const windowMs = 1000;
      const windows = (tenant: string) =>
        new OverviewWindows({
          db: database.db,
          memo: new StaleWhileRevalidate({
            tenant,
            store: RedisStore.over(() => undefined),
            log: quiet,
          }),
          windowMs,
        });
      const warmed = windows("prewarmed");
      const control = windows("control");
      warmed.startPrewarm();
      try {
        // Start early in a window, so both first reads land in the same one.
        await new Promise((r) => setTimeout(r, windowMs - (Date.now() % windowMs) + 20));
        const first = await warmed.read();
        await control.read();
        assert.equal(first.state, "computed");
        const boundary = first.nextBoundaryMs;
        // Past the boundary, the prewarm's refresh (started at boundary + 50 ms) has run.
        await new Promise((r) => setTimeout(r, boundary - Date.now() + 400));
        await warmed.memo.settled();
        const next = await warmed.read();
        assert.equal(next.state, "fresh", "the new window's value was ready");
        assert.ok(next.computedAt >= boundary);
        assert.ok(typeof next.value.refreshMs === "number");
        // Without the prewarm, the first read of the window gets the old value.
        assert.equal((await control.read()).state, "stale");
        await control.memo.settled();
      } finally {
        warmed.stopPrewarm();
      }
    });
  } finally {
    await Deno.remove(clientDir, { recursive: true });
  }
});
