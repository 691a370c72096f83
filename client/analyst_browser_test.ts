/**
 * What an analyst sees, in real Chromium (Debian's, driven by playwright-core) on a real
 * server with real Redis and Postgres, built as `deno task build` builds it and served under
 * its own Content-Security-Policy: names from the label dictionary only, one axis per
 * measure, months as calendar months in any time zone, every row of a table reachable,
 * CSV and PNG exports, layouts from a phone to a laptop, axe-core clean pages, titles per
 * route, a client-side 404, and an overview that lands on each new window's value and
 * never shows an older window's as current.
 *
 * One browser, one server; the steps run in order and share state.
 */
import assert from "node:assert/strict";
import { parse } from "csv-parse/sync";
import type { Page } from "playwright-core";
import { RedisStore, StaleWhileRevalidate } from "../lib/mod.ts";
import { startRedis } from "../lib/testing/redis_server.ts";
import { createApp } from "../server/app.ts";
import { createServerCaches } from "../server/caches.ts";
import { OverviewWindows } from "../server/routes/overview.ts";
import { createTestDatabase, loadSmallFixture } from "../server/testing/pg.ts";
import { buildClient } from "./build.ts";
import type { Labels } from "./src/labels.ts";
import {
  chromiumAvailable,
  launchChromium,
  login,
  pageWidths,
  seriousAxeViolations,
  userAdd,
} from "./testing/browser.ts";

const hasChromium = await chromiumAvailable();
const ADMIN_TOKEN = "analyst-admin-token-7c4e1b9a2f6d3085";
const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };
const WINDOW_MS = 3000;
const ARTIFACTS = "test-artifacts";

type Item = Record<string, string | number>;

/**
 * Polls `expression` in the page until it is truthy (`waitForFunction` evaluates with
 * `eval`, which the app's CSP refuses).
 */
async function waitUntil(page: Page, expression: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(expression).catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${expression}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test({
  name:
    "client in Chromium, as an analyst: dictionary names only, readable measures, months in any time zone, every row, CSV and PNG, phone to laptop, axe-clean, titles and 404, the overview fresh at each window",
  ignore: !hasChromium,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    await using database = await createTestDatabase();
    await loadSmallFixture(database.db);
    await using redis = await startRedis();
    const store = await RedisStore.connect(redis.url, { log: () => {} });
    const clientDir = await Deno.makeTempDir({ prefix: "wb-client-" });
    await buildClient({ outDir: new URL(`file://${clientDir}/`) });
    const overview = new OverviewWindows({
      db: database.db,
      memo: new StaleWhileRevalidate({ tenant: "analyst", store, log: () => {} }),
      windowMs: WINDOW_MS,
    });
    const app = await createApp({
      db: database.db,
      caches: createServerCaches({ store, log: () => {} }),
      adminToken: ADMIN_TOKEN,
      instance: "kano",
      log: () => {},
      clientDir: new URL(`file://${clientDir}/`),
      overview,
    });
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, app.fetch);
    const base = `http://127.0.0.1:${server.addr.port}`;
    const api = async <T>(path: string): Promise<T> => {
      const response = await app.request(path, { headers: bearer });
      assert.equal(response.status, 200, path);
      return await response.json() as T;
    };
    const labels = await api<Labels>("/api/labels");
    const pos = (await api<{ items: { poId: string; label: string }[] }>(
      "/api/projects/demo/presentation_objects",
    )).items;
    const itemsOf = async (poId: string) =>
      (await api<{ items: Item[] }>(`/api/projects/demo/presentation_objects/${poId}/items`))
        .items;
    const [adminLink, viewerLink] = await Promise.all([
      userAdd(database.url, "admin@example.org", true),
      userAdd(database.url, "analyst@example.org", false),
    ]);
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    const browser = await launchChromium();
    try {
      const adminContext = await browser.newContext({
        viewport: { width: 1366, height: 900 },
        acceptDownloads: true,
      });
      const admin = await login(adminContext, base, adminLink);
      const errors: string[] = [];
      admin.on("pageerror", (error) => errors.push(error.message));
      const openPo = async (page: Page, poId: string, selector = ".data-table") => {
        await page.goto(`${base}/projects/demo/${poId}`);
        await page.waitForSelector(`.po-view[data-po-id="${poId}"] ${selector}`);
        if (await page.locator(".po-view .chart").count() > 0) {
          await page.waitForSelector(".po-view .chart[data-rendered]");
        }
      };

      await t.step(
        "no raw column, measure, indicator or period id in any chart, legend, header or title",
        async () => {
          const ids = [
            ...Object.keys(labels.columns),
            ...Object.keys(labels.values),
            ...Object.keys(labels.indicators),
            ...Object.keys(labels.aggregates),
          ];
          // An id that is also a word of the dictionary's own names ("count" in "Adjusted
          // count") cannot be told apart in text: every other id can.
          const words = new Set(
            [
              ...Object.values(labels.columns),
              ...Object.values(labels.indicators),
              ...Object.values(labels.measures).flatMap((m) => [m.label, m.unit]),
            ].join(" ").toLowerCase().split(/[^\w-]+/),
          );
          const distinct = ids.filter((id) => !words.has(id.toLowerCase()));
          assert.ok(distinct.includes("admin_area_3") && distinct.includes("count_adjusted"));
          assert.ok(distinct.includes("anc1") && distinct.includes("AVG"));
          const word = (alternatives: string) => `(?<![\\w-])(${alternatives})(?![\\w-])`;
          const raw = new RegExp(word(`${distinct.join("|")}|\\d{6}`));
          const shownTexts = () =>
            admin.evaluate(`(() => {
              const texts = [document.title];
              for (const el of document.querySelectorAll(
                "main h2, .as-of, .axis-title, .u-legend, th, caption, .chart-tools, .table-tools"
              )) texts.push(el.textContent);
              for (const el of document.querySelectorAll(".chart[aria-label]")) {
                texts.push(el.getAttribute("aria-label"));
              }
              for (const el of document.querySelectorAll(".plot[data-x-ticks]")) {
                texts.push(...JSON.parse(el.dataset.xTicks));
              }
              return texts;
            })()`) as Promise<string[]>;
          await admin.goto(`${base}/overview`);
          await admin.waitForSelector(".overview .chart[data-rendered]");
          for (const text of await shownTexts()) {
            assert.doesNotMatch(text, raw, `overview: "${text}"`);
          }
          for (const po of pos) {
            await openPo(admin, po.poId);
            const shown = await shownTexts();
            for (const text of shown) {
              assert.doesNotMatch(text, raw, `${po.poId}: "${text}"`);
            }
            // Every header is a dictionary name (or an indicator/month/value label).
            const headers = await admin.locator(".data-table th").allTextContents();
            const known = new Set([
              ...Object.values(labels.columns),
              ...Object.values(labels.measures).map((m) => m.label),
              ...Object.values(labels.indicators),
            ]);
            for (const header of headers) {
              const name = header.replace(/ [▲▼]$/, "");
              assert.ok(
                known.has(name) || /^[A-Z]/.test(name),
                `${po.poId}: header "${name}" is not from the dictionary`,
              );
            }
          }
          assert.deepEqual(errors, []);
        },
      );

      await t.step(
        'the SBA object\'s measures are labelled "Average ..." and "Maximum ...", each on its own axis',
        async () => {
          await openPo(admin, "po_sba_avg_month");
          const titles = await admin.locator(".axis-title").allTextContents();
          assert.deepEqual(titles, [
            "Average adjusted count (services per facility-month)",
            "Maximum reported count (services in one facility-month)",
          ]);
          const legends = await admin.locator(".u-legend .u-series:not(:first-child) .u-label")
            .allTextContents();
          assert.deepEqual(legends, ["Average adjusted count", "Maximum reported count"]);
          // Readable: each axis spans its own measure (the averages are not squeezed at the
          // bottom of the maxima's scale).
          const items = await itemsOf("po_sba_avg_month");
          const topAverage = Math.max(...items.map((i) => Number(i.count_adjusted)));
          const topMax = Math.max(...items.map((i) => Number(i.count)));
          const yMax = await admin.evaluate(
            `[...document.querySelectorAll(".plot")].map((el) => Number(el.dataset.yMax))`,
          ) as number[];
          assert.ok(yMax[0] >= topAverage && yMax[0] < 1.5 * topAverage, `${yMax} ${topAverage}`);
          assert.ok(yMax[1] >= topMax && yMax[1] < 1.5 * topMax, `${yMax} ${topMax}`);
          assert.ok(topMax > 3 * topAverage, "on one axis the average would be a flat line");
          assert.match(
            await admin.locator(".chart").getAttribute("aria-label") ?? "",
            /^Line chart by month, Jan 2024 to Dec 2025: Average adjusted count/,
          );
          await admin.click("text=Show the chart's data");
          assert.equal(
            await admin.locator(".chart-table tbody tr").count(),
            items.length,
            "the text alternative has a row per month",
          );
          assert.match(
            await admin.textContent("#po-as-of") ?? "",
            /^Data as of .+ \(the last module run\), periods Jan 2024–Dec 2025\.$/,
          );
        },
      );

      await t.step(
        "every row of the outliers object is reachable; sort, filter, wide layout, sticky header",
        async () => {
          const items = await itemsOf("po_outliers_by_lga");
          assert.ok(items.length > 200, `${items.length} rows`);
          await openPo(admin, "po_outliers_by_lga");
          assert.equal(await admin.locator(".po-view .chart").count(), 0, "a table object");
          const seen: string[] = [];
          for (let page = 1;; page++) {
            const rows = await admin.locator(".data-table tbody tr").evaluateAll((trs) =>
              trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent).join("|"))
            );
            seen.push(...rows);
            const next = admin.locator(".page-next");
            if (await next.isDisabled()) break;
            await next.click();
            await admin.waitForSelector(`.page-of:has-text("Page ${page + 1} of")`);
          }
          const expected = items.map((i) =>
            `${i.admin_area_3}|${labels.indicators[i.indicator_id]}|${i.outlier}`
          );
          assert.equal(seen.length, items.length);
          assert.deepEqual([...seen].sort(), [...expected].sort());

          // Sort by the measure, largest first.
          await admin.click(".data-table th:nth-child(3) button.sort");
          assert.equal(
            await admin.locator(".data-table th:nth-child(3)").getAttribute("aria-sort"),
            "descending",
          );
          const top = Math.max(...items.map((i) => Number(i.outlier)));
          assert.equal(
            await admin.locator(".data-table tbody tr:first-child td:nth-child(3)").textContent(),
            top.toLocaleString("en"),
          );
          // Filter by an LGA's name.
          const lga = String(items[0].admin_area_3);
          await admin.fill(".table-filter", lga);
          const matching = items.filter((i) =>
            String(i.admin_area_3).toLowerCase().includes(lga.toLowerCase()) ||
            labels.indicators[i.indicator_id].toLowerCase().includes(lga.toLowerCase())
          ).length;
          await admin.waitForSelector(`.data-table[data-total-rows="${matching}"]`);
          await admin.fill(".table-filter", "");
          // Wide: one row per LGA, one column per indicator.
          await admin.selectOption(".table-layout", "wide");
          const lgas = new Set(items.map((i) =>
            i.admin_area_3
          ));
          await admin.waitForSelector(`.data-table[data-layout="wide"]`);
          await admin.selectOption(".page-size", "500");
          assert.equal(await admin.locator(".data-table tbody tr").count(), lgas.size);
          const headers = await admin.locator(".data-table th").allTextContents();
          assert.equal(headers[0], "LGA");
          const indicators = new Set(items.map((i) => labels.indicators[i.indicator_id]));
          assert.deepEqual(new Set(headers.slice(1)), indicators);
          assert.equal(
            await admin.evaluate(
              `getComputedStyle(document.querySelector(".data-table thead th")).position`,
            ),
            "sticky",
          );
        },
      );

      await t.step(
        "the CSV download equals the API's items; the chart saves as a PNG",
        async () => {
          const items = await itemsOf("po_outliers_by_lga");
          const csvDownload = admin.waitForEvent("download");
          await admin.click(".save-csv");
          const csv = await Deno.readTextFile(await (await csvDownload).path());
          assert.equal(csv.charCodeAt(0), 0xfeff, "a UTF-8 byte order mark (for Excel)");
          const rows = parse(csv.slice(1), { columns: true }) as Record<string, string>[];
          assert.deepEqual(Object.keys(rows[0]), Object.keys(items[0]));
          const typed = rows.map((row) =>
            Object.fromEntries(
              Object.entries(row).map((
                [k, v],
              ) => [k, typeof items[0][k] === "number" ? Number(v) : v]),
            )
          );
          assert.deepEqual(typed, items);

          await openPo(admin, "po_anc_by_lga");
          const pngDownload = admin.waitForEvent("download");
          await admin.click(".save-png");
          const download = await pngDownload;
          assert.match(download.suggestedFilename(), /^anc1-and-anc4-by-lga.*\.png$/);
          const png = await Deno.readFile(await download.path());
          assert.deepEqual([...png.slice(1, 4)], [0x50, 0x4e, 0x47], "a PNG");
          const width = new DataView(png.buffer).getUint32(16);
          assert.ok(width >= 400 && png.length > 5000, `${width} px wide, ${png.length} bytes`);
        },
      );

      await t.step("bars are sorted by value, with a toggle back to by name", async () => {
        await openPo(admin, "po_anc_by_lga");
        const items = await itemsOf("po_anc_by_lga");
        const totals = new Map<string, number>();
        for (const i of items) {
          const lga = String(i.admin_area_3);
          totals.set(lga, (totals.get(lga) ?? 0) + Number(i.count_adjusted));
        }
        const byValue = [...totals].sort((a, b) => b[1] - a[1]).map(([lga]) => lga);
        const ticks = async () =>
          JSON.parse(await admin.locator(".plot").first().getAttribute("data-x-ticks") ?? "[]");
        const first = await ticks();
        assert.equal(first[0], byValue[0], "the largest first");
        await admin.selectOption(".chart-tools select", "name");
        await waitUntil(
          admin,
          `JSON.parse(document.querySelector(".plot").dataset.xTicks || "[]")[0] === ${
            JSON.stringify([...totals.keys()].sort()[0])
          }`,
        );
      });

      await t.step(
        "a measure spanning decades (OPD beside the rest) can be drawn on a logarithmic axis",
        async () => {
          await openPo(admin, "po_indicators_2024");
          assert.equal(await admin.locator(".chart-scale").inputValue(), "linear");
          await admin.selectOption(".chart-scale", "log");
          await admin.waitForSelector('.axis-title:has-text("logarithmic scale")');
          await admin.waitForSelector(".po-view .chart[data-rendered]");
          // Charts whose values are of one size offer no such scale.
          await openPo(admin, "po_sba_avg_month");
          assert.equal(await admin.locator(".chart-scale").count(), 0);
        },
      );

      await t.step(
        "an administrator's module run shows its progress, then the chart redraws",
        async () => {
          await openPo(admin, "po_penta_trend");
          await admin.evaluate(`(() => {
            window.__runStates = [];
            const status = document.querySelector(".run-status");
            new MutationObserver(() => {
              const bar = status.querySelector("progress");
              window.__runStates.push({
                text: status.textContent,
                progress: bar ? bar.value + "/" + bar.max : null,
              });
            }).observe(status, { subtree: true, childList: true, characterData: true, attributes: true });
          })()`);
          const version = await admin.locator(".po-view").getAttribute("data-version");
          await admin.click(".module-run button");
          await admin.waitForSelector('.module-run[data-phase="done"]');
          assert.match(await admin.textContent(".run-status") ?? "", /^Run finished in/);
          const states = await admin.evaluate("window.__runStates") as {
            text: string;
            progress: string | null;
          }[];
          const steps = states.filter((s) => s.progress !== null).map((s) => s.text);
          assert.ok(
            steps.some((s) => /Computing medians and outliers/.test(s)),
            JSON.stringify(states),
          );
          await waitUntil(
            admin,
            `document.querySelector(".po-view").dataset.version !== ${JSON.stringify(version)}`,
          );
          await admin.waitForSelector(".po-view .chart[data-rendered]");
        },
      );

      const viewerContext = await browser.newContext();
      await login(viewerContext, base, viewerLink);
      const session = await viewerContext.storageState();

      for (const timezoneId of ["America/New_York", "Africa/Lagos"]) {
        await t.step(`month labels are calendar months in ${timezoneId}`, async () => {
          const context = await browser.newContext({
            storageState: session,
            timezoneId,
            viewport: { width: 1366, height: 900 },
          });
          const page = await context.newPage();
          assert.equal(
            await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone"),
            timezoneId,
          );
          await openPo(page, "po_penta_trend");
          const items = await itemsOf("po_penta_trend");
          const periods = [...new Set(items.map((i) => Number(i.period_id)))].sort();
          const months = periods.map((p) => labels.periods[p]);
          assert.equal(months[0], `Jan ${Math.floor(periods[0] / 100)}`);
          // The axis ticks are months of the data.
          const ticks = JSON.parse(
            await page.locator(".plot").first().getAttribute("data-x-ticks") ?? "[]",
          ) as string[];
          assert.ok(ticks.length >= 3, ticks.join());
          assert.equal(ticks[0], months[0]);
          for (const tick of ticks) assert.ok(months.includes(tick), tick);
          // Hovering the first point shows its month in the legend.
          const over = (await page.locator(".plot .u-over").first().boundingBox())!;
          await page.mouse.move(over.x + 1, over.y + over.height / 2);
          await waitUntil(
            page,
            `document.querySelector(".plot .u-legend .u-series:first-child .u-value").textContent !== "–"`,
          );
          assert.equal(
            await page.locator(".plot .u-legend .u-series:first-child .u-value").first()
              .textContent(),
            months[0],
          );
          // The table's months too.
          const cells = await page.locator(".data-table tbody tr td:first-child").allTextContents();
          assert.equal(cells[0], months[0]);
          await context.close();
        });
      }

      await t.step(
        "screenshots at 390x844 and 1366x900 with no horizontal overflow; axe finds nothing serious; a title per route",
        async () => {
          const pages: [string, string, string][] = [
            ["object", "/projects/demo/po_anc_by_lga", ".po-view .chart[data-rendered]"],
            ["table", "/projects/demo/po_outliers_by_lga", ".po-view .data-table"],
            ["timeseries", "/projects/demo/po_sba_avg_month", ".po-view .chart[data-rendered]"],
            ["overview", "/overview", ".overview .chart[data-rendered]"],
            ["profile", "/profile", "#profile-entries"],
            ["caches", "/admin/caches", "#cache-table"],
            ["not-found", "/no/such/page", ".not-found"],
          ];
          const titles = new Map<string, string>();
          for (const viewport of [{ width: 390, height: 844 }, { width: 1366, height: 900 }]) {
            await admin.setViewportSize(viewport);
            for (const [name, path, ready] of pages) {
              await admin.goto(`${base}${path}`);
              await admin.waitForSelector(ready);
              const { scrollWidth, clientWidth } = await pageWidths(admin);
              assert.ok(
                scrollWidth <= clientWidth,
                `${name} at ${viewport.width}px: scrollWidth ${scrollWidth} > ${clientWidth}`,
              );
              await admin.screenshot({
                path: `${ARTIFACTS}/client_${name}_${viewport.width}x${viewport.height}.png`,
              });
              titles.set(name, await admin.title());
              const violations = await seriousAxeViolations(admin);
              assert.deepEqual(
                violations,
                [],
                `${name} at ${viewport.width}px: ${JSON.stringify(violations, null, 1)}`,
              );
            }
          }
          assert.equal(titles.get("object"), "ANC1 and ANC4 by LGA, last 12 months · wb · kano");
          // On a phone the list of objects is a drop-down above the chart.
          await admin.setViewportSize({ width: 390, height: 844 });
          await admin.goto(`${base}/projects/demo/po_anc_by_lga`);
          assert.equal(await admin.locator(".po-list ul").isVisible(), false);
          await admin.selectOption(".po-select select", "po_penta_trend");
          await admin.waitForSelector(
            '.po-view[data-po-id="po_penta_trend"] .chart[data-rendered]',
          );
          assert.match(new URL(admin.url()).pathname, /\/projects\/demo\/po_penta_trend$/);
          await admin.setViewportSize({ width: 1366, height: 900 });
          assert.equal(titles.get("overview"), "Overview · wb · kano");
          assert.equal(titles.get("not-found"), "Page not found · wb · kano");
          assert.equal(new Set(titles.values()).size, titles.size, [...titles.values()].join());
          // The confirmation dialog of a flush, and the login page, are clean too.
          await admin.goto(`${base}/profile`);
          await admin.click("#clear-cache");
          await admin.waitForSelector("#confirm-flush[open]");
          assert.deepEqual(await seriousAxeViolations(admin), []);
          await admin.click("#confirm-flush button[value=cancel]");
          const anonymous = await browser.newPage();
          await anonymous.goto(`${base}/login?token=unused`);
          await anonymous.waitForSelector("#login");
          assert.equal(await anonymous.title(), "Log in · wb · kano");
          assert.deepEqual(await seriousAxeViolations(anonymous), []);
          await anonymous.close();
        },
      );

      await t.step("an unknown path is the app's 404 page, with status 404", async () => {
        const response = await admin.goto(`${base}/reports/2025/q1`);
        assert.equal(response?.status(), 404);
        await admin.waitForSelector(".not-found");
        assert.match(
          await admin.textContent(".not-found") ?? "",
          /There is no page at \/reports\/2025\/q1/,
        );
        const json = await app.request("/api/nope", {
          headers: { ...bearer, accept: "text/html" },
        });
        assert.equal(json.status, 404);
        assert.equal(json.headers.get("content-type"), "application/json");
      });

      await t.step(
        "the overview lands on each new window's value just after the server's refresh",
        async () => {
          overview.startPrewarm();
          const answers: {
            sentAt: number;
            xCache: string;
            refreshedAt: number;
            refreshMs: number;
          }[] = [];
          const listen = (page: Page) =>
            page.on("response", (r) => {
              if (!r.url().endsWith("/api/instance/overview")) return;
              const headers = r.headers();
              answers.push({
                sentAt: r.request().timing().startTime,
                xCache: headers["x-cache"],
                refreshedAt: Date.parse(headers["x-window-refreshed-at"]),
                refreshMs: Number(headers["x-refresh-ms"]),
              });
            });
          listen(admin);
          await admin.goto(`${base}/overview`);
          await admin.waitForSelector('.overview[data-current="true"]');
          const boundary = Date.parse(
            await admin.locator(".overview").getAttribute("data-next-boundary") ?? "",
          );
          const firstRefreshMs = answers[answers.length - 1].refreshMs;
          assert.ok(Number.isFinite(firstRefreshMs));
          await waitUntil(
            admin,
            `Date.parse(document.querySelector(".overview").dataset.computedAt) >= ${boundary} &&
             document.querySelector(".overview").dataset.current === "true"`,
            4 * WINDOW_MS,
          );
          const after = answers.filter((a) => a.sentAt >= boundary);
          assert.ok(after.length >= 1);
          // It aimed past the refresh: the boundary plus the refresh time the server reported.
          assert.ok(
            after[0].sentAt >= boundary + firstRefreshMs,
            `${
              after[0].sentAt - boundary
            } ms after the boundary, the refresh takes ${firstRefreshMs}`,
          );
          // The prewarm refreshed the window at its boundary, and the page asked after that:
          // its first question of the new window got the new window's value.
          assert.equal(after[0].xCache, "HIT", JSON.stringify(answers));
          assert.ok(after[0].refreshedAt >= boundary);
          overview.stopPrewarm();
        },
      );

      await t.step(
        "a reload never shows an older window's value as current, nor takes one from the HTTP cache",
        async () => {
          // Without the prewarm, the first request of a window is answered STALE.
          const stale: Record<string, string>[] = [];
          admin.on("response", (r) => {
            if (r.url().endsWith("/api/instance/overview") && r.headers()["x-cache"] === "STALE") {
              stale.push(r.headers());
            }
          });
          await admin.addInitScript(`
            window.__overviewStates = [];
            new MutationObserver(() => {
              const el = document.querySelector(".overview");
              if (el) window.__overviewStates.push(el.dataset.current + " " + el.dataset.xCache);
            }).observe(document, { subtree: true, attributes: true, childList: true });
          `);
          await admin.goto(`${base}/overview`);
          await admin.waitForSelector(".overview");
          const next = Date.parse(
            await admin.locator(".overview").getAttribute("data-next-boundary") ?? "",
          );
          await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now()) + 20));
          await admin.reload();
          await admin.waitForSelector('.overview[data-x-cache="STALE"][data-current="false"]');
          assert.match(
            await admin.textContent("#overview-meta") ?? "",
            /These are the previous 3 seconds' figures: the server is recomputing them/,
          );
          const transfer = await admin.evaluate(`performance.getEntriesByType("resource")
            .filter((e) => e.name.endsWith("/api/instance/overview"))
            .map((e) => e.transferSize)`) as number[];
          assert.ok(transfer[0] > 0, "the reload asked the server (not the HTTP cache)");
          await admin.waitForSelector('.overview[data-current="true"]', {
            timeout: 3 * WINDOW_MS,
          });
          const states = await admin.evaluate("window.__overviewStates") as string[];
          assert.ok(!states.includes("true STALE"), states.join(", "));
          assert.ok(stale.length >= 1);
          for (const headers of stale) assert.equal(headers["cache-control"], "no-store");
        },
      );
      await adminContext.close();
      await viewerContext.close();
    } finally {
      overview.stopPrewarm();
      await browser.close();
      await server.shutdown();
      await store.close();
      await Deno.remove(clientDir, { recursive: true });
    }
  },
});
