/**
 * The client in real Chromium (Debian's, driven by playwright-core) on a real server with
 * real Redis and Postgres: presentation objects render, a revisit comes from IndexedDB,
 * and "Clear cache" flushes Redis (administrator) and the browser's own cache.
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { closeRedis, initRedis } from "../lib/mod.ts";
import { startRedis } from "../lib/testing/redis_server.ts";
import { createApp } from "../server/app.ts";
import { createServerCaches } from "../server/caches.ts";
import { createTestDatabase, loadSmallFixture } from "../server/testing/pg.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
if (!hasChromium && Deno.env.get("CI")) {
  throw new Error(`${CHROMIUM} is missing: .ci/run installs it with apt-get install chromium`);
}
const ADMIN = "browser-admin-token";

/** A page expression that is true once `#viewer-meta` contains `text`. */
const metaMatches = (text: string) =>
  `(document.querySelector("#viewer-meta")?.textContent ?? "").includes(${JSON.stringify(text)})`;

Deno.test({
  name: "client: presentation objects render, revisit hits IndexedDB, Clear cache flushes Redis",
  ignore: !hasChromium,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using database = await createTestDatabase();
    await loadSmallFixture(database.db);
    await using redis = await startRedis();
    await initRedis(redis.url, { log: () => {} });
    const app = await createApp({
      openAccess: true, // the first client has no login (replaced by the app of issue 6)
      clientDir: new URL("./", import.meta.url),
      db: database.db,
      caches: createServerCaches({ log: () => {} }),
      adminToken: ADMIN,
      instance: "browser",
      log: () => {},
    });
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
    const base = `http://127.0.0.1:${server.addr.port}`;
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      const page = await browser.newPage({ bypassCSP: true }); // string predicates are eval()
      const itemRequests: string[] = [];
      page.on("request", (request) => {
        if (request.url().endsWith("/items")) itemRequests.push(request.url());
      });
      await page.goto(base);
      await page.waitForSelector("#po-list button");
      const first = page.locator("#po-list button").first();
      await first.click();
      await page.waitForSelector("svg.bars rect");
      assert.match(await page.textContent("#viewer-meta") ?? "", /from server \(X-Cache: MISS\)/);
      await Deno.mkdir("test-artifacts", { recursive: true });
      await page.screenshot({ path: "test-artifacts/client_po.png", fullPage: true });

      // A revisit is served from IndexedDB without a request.
      await page.reload();
      await page.waitForSelector("#po-list button");
      const before = itemRequests.length;
      await page.locator("#po-list button").first().click();
      await page.waitForFunction(metaMatches("browser cache"));
      assert.equal(itemRequests.length, before);

      // Without a token: the browser cache only; Redis keeps its keys.
      const keys = Number(await redis.cli("DBSIZE"));
      assert.ok(keys > 0);
      await page.click("#clear-cache");
      await page.waitForSelector("#clear-status[data-done]");
      assert.match(
        await page.textContent("#clear-status") ?? "",
        /only this browser's cache.*0 entries left/,
      );
      assert.equal(Number(await redis.cli("DBSIZE")), keys);

      // As an administrator: Redis flushed, then IndexedDB.
      await page.locator("#po-list button").first().click();
      await page.waitForFunction(metaMatches("X-Cache: HIT"));
      await page.fill("#admin-token", ADMIN);
      await page.evaluate('delete document.querySelector("#clear-status").dataset.done');
      await page.click("#clear-cache");
      await page.waitForSelector("#clear-status[data-done]");
      assert.match(
        await page.textContent("#clear-status") ?? "",
        /Server cache flushed.*0 entries left/,
      );
      const deadline = Date.now() + 2000;
      while (Number(await redis.cli("DBSIZE")) > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(await redis.cli("--scan", "--pattern", "cache:*"), "");
      const idbCount = await page.evaluate(`new Promise((resolve, reject) => {
        const open = indexedDB.open("wb-cache", 1);
        open.onsuccess = () => {
          const count = open.result.transaction("entries").objectStore("entries").count();
          count.onsuccess = () => resolve(count.result);
          count.onerror = () => reject(count.error);
        };
        open.onerror = () => reject(open.error);
      })`);
      assert.equal(idbCount, 0);
    } finally {
      await browser.close();
      await server.shutdown();
      await closeRedis();
    }
  },
});
