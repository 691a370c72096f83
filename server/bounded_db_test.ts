/**
 * The cold computations' bulkhead (`bounded_db.ts`) against the machine's Postgres: how many
 * statements run at once as Postgres itself reports them (`pg_stat_activity`), arrival
 * order, slots freed by failures, transactions; and in the app, that a cold computation
 * queues while a hit, a detail and a version answer without waiting for it.
 */
import assert from "node:assert/strict";
import { createApp } from "./app.ts";
import { boundedDb, defaultFillConcurrency } from "./bounded_db.ts";
import { createServerCaches } from "./caches.ts";
import { readConfig } from "./config.ts";
import { connectPostgres } from "./db.ts";
import { createTestDatabase, loadSmallFixture, TEST_PG_ADMIN_URL } from "./testing/pg.ts";
import { connectTestStore, REDIS_ENABLED, xCache } from "./testing/redis_mode.ts";
import { startRedis } from "../lib/testing/redis_server.ts";
import { until } from "./testing/until.ts";

/**
 * Runs `count` statements of `sleepS` seconds through a bound of `concurrency` on a pool of
 * 6 and returns the most that Postgres showed active at once (polled every 10 ms from
 * another connection), with the order in which they finished.
 */
async function peakConcurrency(concurrency: number, count: number, sleepS = 0.3) {
  const tag = `bounded_${crypto.randomUUID().replaceAll("-", "")}`;
  const db = connectPostgres(TEST_PG_ADMIN_URL, { max: 6 });
  const observer = connectPostgres(TEST_PG_ADMIN_URL, { max: 1 });
  const bounded = boundedDb(db, concurrency);
  try {
    let peak = 0;
    let done = false;
    const polling = (async () => {
      while (!done) {
        const [{ n }] = await observer.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()`,
          [`%${tag}%`],
        );
        peak = Math.max(peak, n);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const finished: number[] = [];
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        await bounded.query(`SELECT pg_sleep(${sleepS}) /* ${tag} */`);
        finished.push(i);
      }),
    );
    done = true;
    await polling;
    return { peak, finished, bounded };
  } finally {
    await observer.close();
    await bounded.close();
  }
}

Deno.test("at most `concurrency` statements run on Postgres at once; the rest wait in arrival order", async () => {
  const two = await peakConcurrency(2, 4);
  // Two at once, not one (the bound lets work overlap) and not four (it bounds).
  assert.equal(two.peak, 2);
  const one = await peakConcurrency(1, 3, 0.15);
  assert.equal(one.peak, 1);
  assert.deepEqual(one.finished, [0, 1, 2]);
  assert.equal(one.bounded.running + one.bounded.queued, 0);
});

Deno.test("a failed statement frees its slot, and statements inside a transaction do not queue again", async () => {
  await using test = await createTestDatabase();
  const bounded = boundedDb(test.db, 1);
  const failing = bounded.query("SELECT 1 FROM no_such_table");
  const next = bounded.query<{ n: number }>("SELECT 2 AS n");
  assert.equal(bounded.queued, 1);
  await assert.rejects(failing);
  assert.deepEqual(await next, [{ n: 2 }]);
  // At a bound of 1 a transaction holds the slot; its own statements would deadlock if they
  // queued for it again.
  const result = await bounded.transaction(async (tx) => {
    const [{ a }] = await tx.query<{ a: number }>("SELECT 1 AS a");
    const [{ b }] = await tx.query<{ b: number }>("SELECT 2 AS b");
    return a + b;
  });
  assert.equal(result, 3);
  assert.throws(() => boundedDb(test.db, 0), /positive integer, got 0/);
});

Deno.test("the default bound leaves a core to the hits and pool connections to the other requests", () => {
  assert.equal(defaultFillConcurrency(1), 1);
  assert.equal(defaultFillConcurrency(2), 1);
  assert.equal(defaultFillConcurrency(4), 3);
  assert.equal(defaultFillConcurrency(8, 2), 3);
  assert.equal(defaultFillConcurrency(64), 8);
  assert.equal(defaultFillConcurrency(64, 1, 4), 2);
  assert.equal(readConfig({ FILL_CONCURRENCY: "3" }).fillConcurrency, 3);
  assert.equal(
    readConfig({ DENO_JOBS: "2" }).fillConcurrency,
    defaultFillConcurrency(navigator.hardwareConcurrency, 2),
  );
  assert.equal(readConfig({ DENO_JOBS: "many" }).fillConcurrency, readConfig({}).fillConcurrency);
  assert.throws(
    () => readConfig({ FILL_CONCURRENCY: "0" }),
    /FILL_CONCURRENCY must be an integer from 1/,
  );
});

Deno.test("in the app, a cold computation waits for a slot while hits, details and other requests do not", async () => {
  await using test = await createTestDatabase();
  await loadSmallFixture(test.db);
  await using redis = await startRedis();
  const store = await connectTestStore(redis.url);
  const computeDb = boundedDb(test.db, 1);
  try {
    const app = await createApp({
      openAccess: true,
      db: test.db,
      computeDb,
      caches: createServerCaches({ store, log: () => {} }),
      log: () => {},
    });
    const projectId = (await (await app.request("/api/projects")).json()).items[0].projectId;
    const pos = (await (await app.request(`/api/projects/${projectId}/presentation_objects`))
      .json()).items.map((p: { poId: string }) => p.poId) as string[];
    assert.ok(pos.length >= 2);
    const items = (poId: string) => `/api/projects/${projectId}/presentation_objects/${poId}/items`;
    const warm = await app.request(items(pos[0]));
    assert.equal(warm.status, 200);
    await warm.arrayBuffer();

    // Another cold computation holds the only slot.
    const holder = computeDb.query("SELECT pg_sleep(1.5)");
    const cold = Promise.resolve(app.request(items(pos[1])));
    assert.ok(await until(() => computeDb.queued === 1, 5000), "the cold computation never queued");
    let coldDone = false;
    cold.then(() => coldDone = true, () => coldDone = true);

    const detail = await app.request(`/api/projects/${projectId}/presentation_objects/${pos[1]}`);
    assert.equal(detail.status, 200);
    await detail.arrayBuffer();
    const list = await app.request(`/api/projects/${projectId}/presentation_objects`);
    assert.equal(list.status, 200);
    await list.arrayBuffer();
    if (REDIS_ENABLED) {
      const hit = await app.request(items(pos[0]));
      assert.equal(hit.headers.get("x-cache"), "HIT");
      await hit.arrayBuffer();
    }
    assert.equal(coldDone, false, "the cold computation ran without a slot");
    assert.equal(computeDb.queued, 1);

    await holder;
    const answer = await cold;
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get("x-cache"), xCache("MISS"));
    await answer.arrayBuffer();
  } finally {
    await store.close();
  }
});
