/**
 * Live invalidation in real Chromium: with a token saved, the page listens to
 * `GET /api/events`; a module run raised on the server empties the browser's cached items,
 * so the next view comes from the server with the new version.
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { closeRedis, initRedis } from "../lib/mod.ts";
import { startRedis } from "../lib/testing/redis_server.ts";
import { createApp } from "../server/app.ts";
import { createServerCaches } from "../server/caches.ts";
import { ServerEvents } from "../server/events/mod.ts";
import { createTestDatabase, loadSmallFixture } from "../server/testing/pg.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
const ADMIN = "live-admin-token";
const VIEWER = "live-viewer-token";

const metaMatches = (text: string) =>
  `(document.querySelector("#viewer-meta")?.textContent ?? "").includes(${JSON.stringify(text)})`;

Deno.test({
  name: "client: a module run on the server empties the browser's cached items (SSE)",
  ignore: !hasChromium,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using database = await createTestDatabase();
    await loadSmallFixture(database.db);
    await using redis = await startRedis();
    await initRedis(redis.url, { log: () => {} });
    const events = new ServerEvents({ db: database.db, instance: "browser-live" });
    const app = await createApp({
      openAccess: true, // the first client has no login (replaced by the app of issue 6)
      clientDir: new URL("./", import.meta.url),
      db: database.db,
      caches: createServerCaches({ log: () => {} }),
      adminToken: ADMIN,
      viewerToken: VIEWER,
      instance: "browser-live",
      log: () => {},
      events,
    });
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
    const base = `http://127.0.0.1:${server.addr.port}`;
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
    });
    try {
      const page = await browser.newPage({ bypassCSP: true }); // string predicates are eval()
      await page.goto(base);
      await page.evaluate(`localStorage.setItem("wb.adminToken", ${JSON.stringify(VIEWER)})`);
      await page.reload();
      await page.waitForSelector('#live-status[data-state="on"]');

      // Cached in IndexedDB, then a revisit comes from there.
      await page.locator("#po-list button").first().click();
      await page.waitForFunction(metaMatches("from server"));
      await page.reload();
      await page.waitForSelector('#live-status[data-state="on"]');
      await page.locator("#po-list button").first().click();
      await page.waitForFunction(metaMatches("browser cache"));

      // A module run raised on the server (not by this page).
      const run = await app.request("/api/projects/demo/modules/m001/run", {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      assert.equal(run.status, 200);
      await run.body?.cancel();
      await page.waitForSelector("#live-status[data-last-event-id]");
      assert.match(
        await page.textContent("#live-status") ?? "",
        /module_run \(module\).*browser cache cleared/,
      );
      await page.locator("#po-list button").nth(1).click();
      await page.locator("#po-list button").first().click();
      await page.waitForFunction(metaMatches("from server (X-Cache: MISS)"));
    } finally {
      await browser.close();
      await events.close();
      await server.shutdown();
      await closeRedis();
    }
  },
});
