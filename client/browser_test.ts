/**
 * The web client in real Chromium (Debian's, driven by playwright-core) on a real server
 * with real Redis and Postgres, built as `deno task build` builds it and served under its
 * own Content-Security-Policy. Users come from the real `wb user add` entry
 * (`server/user_add.ts`) and log in through its one-time links.
 *
 * One browser, one server; the steps run in order and share state (an administrator's and
 * a viewer's browser context).
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { RedisStore } from "../lib/mod.ts";
import { startRedis } from "../lib/testing/redis_server.ts";
import { createApp } from "../server/app.ts";
import { createServerCaches } from "../server/caches.ts";
import { createTestDatabase, loadSmallFixture } from "../server/testing/pg.ts";
import { buildClient } from "./build.ts";
import { chromiumAvailable, launchChromium, login, userAdd } from "./testing/browser.ts";

const hasChromium = await chromiumAvailable();
const ADMIN_TOKEN = "browser-admin-token-2d0f8b6e4c1a3957";
const PO = "po_anc_by_lga"; // a grouped bar chart
const PO_PATH = `/projects/demo/${PO}`;
const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** Entries in the page's IndexedDB cache (creating the store the way idb-keyval does). */
function idbCount(page: Page): Promise<number> {
  return page.evaluate(`new Promise((resolve, reject) => {
    const open = indexedDB.open("wb-cache");
    open.onupgradeneeded = () => open.result.createObjectStore("entries");
    open.onsuccess = () => {
      const request = open.result.transaction("entries").objectStore("entries").count();
      request.onsuccess = () => { open.result.close(); resolve(request.result); };
      request.onerror = () => reject(request.error);
    };
    open.onerror = () => reject(open.error);
  })`) as Promise<number>;
}

Deno.test({
  name:
    "client in Chromium: charts render, revisits come from IndexedDB, SSE redraws, Clear cache and the release check do what each role may, cross-origin posts are refused",
  ignore: !hasChromium,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    await using database = await createTestDatabase();
    await loadSmallFixture(database.db);
    await using redis = await startRedis();
    const store = await RedisStore.connect(redis.url, { log: () => {} });
    const clientDir = await Deno.makeTempDir({ prefix: "wb-client-" });
    const build = await buildClient({ outDir: new URL(`file://${clientDir}/`) });
    const app = await createApp({
      db: database.db,
      caches: createServerCaches({ store, log: () => {} }),
      adminToken: ADMIN_TOKEN,
      instance: "browser",
      log: () => {},
      clientDir: new URL(`file://${clientDir}/`),
    });
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, app.fetch);
    const base = `http://127.0.0.1:${server.addr.port}`;
    // Another origin of the same site (another port): its requests carry SameSite cookies.
    const attacker = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen() {} },
      () =>
        new Response(
          `<!doctype html><form method="post" action="${base}/caches/flush-all">` +
            `<input name="confirm" value="yes"></form><script>document.forms[0].submit()</script>`,
          { headers: { "content-type": "text/html" } },
        ),
    );
    const [adminToken, viewerToken] = await Promise.all([
      userAdd(database.url, "admin@example.org", true),
      userAdd(database.url, "viewer@example.org", false),
    ]);
    const cacheKeys = async () =>
      (await redis.cli("--scan", "--pattern", "cache:*")).split("\n").filter(Boolean).sort();
    const browser = await launchChromium();
    try {
      const adminContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const admin = await login(adminContext, base, adminToken);
      const itemRequests: string[] = [];
      adminContext.on("request", (request) => {
        if (/\/presentation_objects\/[^/]+(\/items)?$/.test(request.url())) {
          itemRequests.push(request.url());
        }
      });

      await t.step("an administrator logs in with a one-time link; the chart renders", async () => {
        assert.equal(await admin.textContent("#who"), "admin@example.org · administrator");
        assert.equal(new URL(admin.url()).search, "", "the token left the address bar");
        await admin.click(`a[data-po-id="${PO}"]`);
        await admin.waitForSelector('.po-view[data-source="network"] .chart[data-rendered] canvas');
        assert.match(await admin.textContent("#po-meta") ?? "", /Computed by the server just now/);
        assert.equal(await admin.getAttribute(".po-view", "data-x-cache"), "MISS");
        assert.ok((await admin.locator(".po-view tbody tr").count()) > 0);
        // Bars were drawn: the canvas holds pixels of the first series' colour (#3a6f95).
        const painted = await admin.evaluate(`(() => {
          const canvas = document.querySelector(".chart canvas");
          const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
          let n = 0;
          for (let i = 0; i < data.length; i += 4) {
            if (data[i] === 0x3a && data[i + 1] === 0x6f && data[i + 2] === 0x95) n++;
          }
          return n;
        })()`) as number;
        assert.ok(painted > 500, `${painted} bar pixels`);
        await Deno.mkdir("test-artifacts", { recursive: true });
        await admin.screenshot({ path: "test-artifacts/client_chart.png", fullPage: true });
        // A login link works once.
        const again = await adminContext.request.post(`${base}/api/auth/login`, {
          data: { token: adminToken },
          headers: { "sec-fetch-site": "same-origin" },
        });
        assert.equal(again.status(), 401);
      });

      await t.step("a revisit is served from IndexedDB without a request", async () => {
        assert.ok(await idbCount(admin) >= 2, "detail and items are stored");
        await admin.reload();
        const before = itemRequests.length;
        await admin.waitForSelector('.po-view[data-source="indexeddb"] .chart[data-rendered]');
        assert.equal(itemRequests.length, before, itemRequests.slice(before).join(", "));
        assert.match(
          await admin.textContent("#po-meta") ?? "",
          /Opened from this browser's saved copy/,
        );
      });

      await t.step(
        "a module run pushed over SSE redraws the open chart without a reload",
        async () => {
          await admin.waitForSelector('#live[data-state="live"]');
          await admin.evaluate("window.__noReload = true");
          const detail = await (await app.request(`/api/projects/demo/presentation_objects/${PO}`, {
            headers: bearer,
          })).json();
          const run = await app.request("/api/projects/demo/modules/m001/run", {
            method: "POST",
            headers: bearer,
          });
          assert.equal(run.status, 200);
          const { lastRun } = await run.json();
          const version = `${detail.lastUpdated}|${lastRun}`;
          await admin.waitForSelector(
            `.po-view[data-version="${version}"][data-source="network"] .chart[data-rendered]`,
          );
          assert.equal(await admin.evaluate("window.__noReload"), true);
          assert.match(await admin.textContent("#live") ?? "", /last: a module run at/);
        },
      );

      const viewerContext = await browser.newContext();
      const viewer = await login(viewerContext, base, viewerToken);

      await t.step(
        "a viewer's version mismatch clears IndexedDB and leaves Redis alone",
        async () => {
          await viewer.goto(`${base}${PO_PATH}`);
          await viewer.waitForSelector(".po-view .chart[data-rendered]");
          assert.ok(await idbCount(viewer) > 0);
          const keys = await cacheKeys();
          assert.ok(keys.length > 0);
          await viewer.evaluate(`localStorage.setItem("wb.release", "0.0.0+cache0")`);
          let flushes = 0;
          viewer.on("request", (r) => r.url().endsWith("/caches/flush-all") && flushes++);
          await viewer.goto(`${base}/profile`);
          await viewer.waitForSelector('html[data-release="changed"] #profile-entries');
          assert.match(
            await viewer.textContent("#notice") ?? "",
            /This browser's cache was cleared/,
          );
          assert.doesNotMatch(await viewer.textContent("#notice") ?? "", /shared cache/);
          assert.equal(await idbCount(viewer), 0);
          assert.equal(flushes, 0, "a viewer's browser does not ask the server to flush");
          assert.deepEqual(await cacheKeys(), keys);
        },
      );

      await t.step("a viewer's Clear cache clears the browser only, and says so", async () => {
        await viewer.goto(`${base}${PO_PATH}`);
        await viewer.waitForSelector(".po-view .chart[data-rendered]");
        assert.ok(await idbCount(viewer) > 0);
        const keys = await cacheKeys();
        await viewer.goto(`${base}/profile`);
        const button = viewer.locator("#clear-cache");
        assert.equal(await button.textContent(), "Clear this browser's cache");
        assert.equal(await button.getAttribute("data-scope"), "browser");
        await button.click();
        await viewer.waitForSelector('#clear-status:has-text("This browser\'s cache was cleared")');
        assert.doesNotMatch(await viewer.textContent("#clear-status") ?? "", /server/);
        assert.equal(await idbCount(viewer), 0);
        assert.deepEqual(await cacheKeys(), keys, "Redis untouched");
        // Not even by hand: the server refuses a viewer's flush.
        const direct = await viewerContext.request.post(`${base}/caches/flush-all`, {
          headers: { "sec-fetch-site": "same-origin" },
        });
        assert.equal(direct.status(), 403);
        assert.deepEqual(await cacheKeys(), keys);
      });

      await t.step(
        "a cross-origin form post to flush-all is refused, even with the session cookie",
        async () => {
          const keys = await cacheKeys();
          assert.ok(keys.length > 0);
          const page = await adminContext.newPage();
          const answer = page.waitForResponse((r) => r.url() === `${base}/caches/flush-all`);
          await page.goto(`http://127.0.0.1:${attacker.addr.port}/`);
          const response = await answer;
          assert.equal(response.status(), 403);
          assert.match(
            await response.text(),
            /Cross-origin request refused \(Sec-Fetch-Site: same-site\)/,
          );
          assert.deepEqual(await cacheKeys(), keys);
          await page.close();
        },
      );

      await t.step(
        "an administrator's version mismatch flushes the server and clears IndexedDB",
        async () => {
          await admin.goto(`${base}${PO_PATH}`);
          await admin.waitForSelector(".po-view .chart[data-rendered]");
          assert.ok(await idbCount(admin) > 0);
          assert.ok((await cacheKeys()).length > 0);
          await admin.evaluate(`localStorage.setItem("wb.release", "0.0.0+cache0")`);
          await admin.goto(`${base}/profile`);
          await admin.waitForSelector('html[data-release="changed"] #profile-entries');
          assert.match(await admin.textContent("#notice") ?? "", /Its shared cache was flushed/);
          assert.equal(await idbCount(admin), 0);
          assert.deepEqual(await cacheKeys(), []);
          // The next load is the same release: nothing is cleared.
          await admin.reload();
          await admin.waitForSelector('html[data-release="same"] #profile-entries');
        },
      );

      await t.step(
        "an administrator's Clear cache flushes Redis, empties IndexedDB and reloads",
        async () => {
          await admin.goto(`${base}${PO_PATH}`);
          await admin.waitForSelector(".po-view .chart[data-rendered]");
          assert.ok(await idbCount(admin) > 0);
          assert.ok((await cacheKeys()).length > 0);
          await admin.click('a[href="/profile"]');
          const button = admin.locator("#clear-cache");
          assert.equal(await button.textContent(), "Clear cache (server and this browser)");
          await admin.evaluate("window.__beforeClear = true");
          // A flush for everyone asks first; "Cancel" leaves Redis alone.
          await button.click();
          await admin.waitForSelector("#confirm-flush[open]");
          await admin.click("#confirm-flush button[value=cancel]");
          assert.equal(await admin.locator("#confirm-flush[open]").count(), 0);
          assert.ok((await cacheKeys()).length > 0);
          await button.click();
          await admin.click("#confirm-flush-yes");
          await admin.waitForSelector('#clear-status:has-text("shared cache was flushed")');
          assert.equal(await admin.evaluate("window.__beforeClear"), undefined, "reloaded");
          assert.deepEqual(await cacheKeys(), []);
          assert.equal(await idbCount(admin), 0);
          const caches = await adminContext.newPage();
          await caches.goto(`${base}/admin/caches`);
          await caches.waitForSelector('#cache-table tr[data-prefix="po_items"]');
          assert.match(
            await caches.textContent("#last-flush") ?? "",
            /by admin@example.org \(flush-all/,
          );
          await caches.close();
        },
      );

      console.log(
        `client bundle: ${
          build.files.map((f) => `${f.name} ${(f.gzipBytes / 1024).toFixed(1)} KiB gzip`).join(", ")
        }; built in ${build.ms} ms`,
      );
    } finally {
      await browser.close();
      await attacker.shutdown();
      await server.shutdown();
      await store.close();
      await Deno.remove(clientDir, { recursive: true });
    }
  },
});
