import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { connectPostgres, DatabaseUnavailableError, type Db, openPglite } from "./db.ts";
import { createTestDatabase } from "./testing/pg.ts";
import { freePort } from "../lib/testing/redis_server.ts";
import { loadInstance } from "./load/mod.ts";
import { fetchPoItems, getPresentationObject, listPresentationObjects } from "./model/mod.ts";

/** The contract every Db must meet, run against both drivers. */
async function dbContract(t: Deno.TestContext, db: Db): Promise<void> {
  await db.exec(
    `CREATE TABLE contract_t (
       id int PRIMARY KEY, name text, score float8, tags jsonb, at timestamptz, flag boolean)`,
  );

  await t.step("query() binds $n parameters and returns plain objects with numbers", async () => {
    const rows = await db.query<Record<string, unknown>>(
      `SELECT $1::int + 1 AS a, $2::text AS b, count(*) AS n, avg(x) AS mean, sum(x) AS total
         FROM generate_series(1, 4) x`,
      [41, "hi"],
    );
    deepEqual(rows, [{ a: 42, b: "hi", n: 4, mean: 2.5, total: 10 }]);
    equal(Object.getPrototypeOf(rows[0]), Object.prototype);
    ok(Array.isArray(rows) && Object.getPrototypeOf(rows) === Array.prototype);
  });

  await t.step("copyRows() round-trips awkward values", async () => {
    const rows: unknown[][] = [
      [1, 'Comma, "quoted" name', 1.5, { k: ["v", 1] }, new Date("2025-01-02T03:04:05.678Z")],
      [2, "", null, null, null],
      [3, null, -0.25, [1, 2], null],
      [4, "line\nbreak\r\nand \\. and \\", 1e-7, { s: "x" }, null],
      [5, "\\.", 0, null, null, true],
      [6, " padded ", 3, null, null, false],
      [7, "Kano ünïcødé ✓", 2, null, null],
    ];
    const columns = ["id", "name", "score", "tags", "at", "flag"];
    equal(await db.copyRows("contract_t", columns, rows.map((r) => [...r, null].slice(0, 6))), 7);
    const back = await db.query<Record<string, unknown>>(
      `SELECT id, name, score, tags, iso_at, flag FROM (
         SELECT *, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS iso_at
           FROM contract_t) t ORDER BY id`,
    );
    deepEqual(back.map((r) => r.name), rows.map((r) => r[1]));
    deepEqual(back.map((r) => r.score), [1.5, null, -0.25, 1e-7, 0, 3, 2]);
    deepEqual(back.map((r) => r.tags), [
      { k: ["v", 1] },
      null,
      [1, 2],
      { s: "x" },
      null,
      null,
      null,
    ]);
    deepEqual(back.map((r) => r.flag), [null, null, null, null, true, false, null]);
    equal(back[0].iso_at, "2025-01-02T03:04:05.678Z");
    // Large, lazy input.
    function* many() {
      for (let i = 100; i < 30_100; i++) yield [i, `n${i}`, i / 2, null, null];
    }
    equal(await db.copyRows("contract_t", ["id", "name", "score", "tags", "at"], many()), 30_000);
    const [{ n }] = await db.query<{ n: number }>("SELECT count(*) AS n FROM contract_t");
    equal(n, 30_007);
  });

  await t.step("copyRows() rejects on a COPY error instead of hanging", async () => {
    await rejects(
      db.copyRows("contract_t", ["id"], [[900_001], [900_001]]),
      (error: Error & { code?: string }) => error.code === "23505",
    );
    await rejects(
      db.copyRows("contract_t", ["id", "tags"], [[900_002, "not json"]]),
      (error: Error & { code?: string }) => error.code === "22P02",
    );
    // The connection is still usable.
    deepEqual(await db.query("SELECT count(*) AS n FROM contract_t WHERE id > 900000"), [{ n: 0 }]);
  });

  await t.step("transaction() commits, rolls back on throw, nests with savepoints", async () => {
    const value = await db.transaction(async (tx) => {
      await tx.query("INSERT INTO contract_t (id, name) VALUES ($1, $2)", [-1, "committed"]);
      return "done";
    });
    equal(value, "done");
    await rejects(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO contract_t (id, name) VALUES ($1, $2)", [-2, "rolled back"]);
        throw new Error("boom");
      }),
      /boom/,
    );
    await db.transaction(async (tx) => {
      await tx.query("INSERT INTO contract_t (id) VALUES (-3)");
      await rejects(tx.transaction(async (inner) => {
        await inner.query("INSERT INTO contract_t (id) VALUES (-4)");
        throw new Error("inner");
      }));
      await tx.transaction((inner) => inner.query("INSERT INTO contract_t (id) VALUES (-5)"));
      await tx.copyRows("contract_t", ["id"], [[-6]]);
    });
    const ids = await db.query<{ id: number }>(
      "SELECT id FROM contract_t WHERE id < 0 ORDER BY id",
    );
    deepEqual(ids.map((r) => r.id), [-6, -5, -3, -1]);
  });

  await t.step("query() surfaces SQL errors unchanged", async () => {
    await rejects(db.query("SELECT 1/0"), (error: Error & { code?: string }) => {
      ok(!(error instanceof DatabaseUnavailableError));
      equal(error.code, "22012");
      return true;
    });
  });
}

Deno.test("connectPostgres() meets the Db contract", async (t) => {
  await using test = await createTestDatabase();
  await test.db.exec(
    "CREATE FUNCTION iso_ts(t timestamptz) RETURNS text LANGUAGE sql AS $$ SELECT t::text $$",
  );
  await dbContract(t, test.db);
});

Deno.test("openPglite() meets the Db contract", async (t) => {
  const db = await openPglite();
  try {
    await dbContract(t, db);
  } finally {
    await db.close();
  }
});

Deno.test("connectPostgres() maps a refused connection to DatabaseUnavailableError", async () => {
  const db = connectPostgres(`postgres://postgres@127.0.0.1:${freePort()}/nowhere`, {
    connectTimeoutS: 2,
  });
  try {
    await rejects(db.query("SELECT 1"), (error: Error) => {
      ok(error instanceof DatabaseUnavailableError, String(error));
      equal(error.code, "DB_UNAVAILABLE");
      equal(error.retryAfterS, 5);
      ok(error.message.includes("ECONNREFUSED"), error.message);
      return true;
    });
  } finally {
    await db.close();
  }
});

Deno.test("connectPostgres() maps a terminated connection to DatabaseUnavailableError", async () => {
  await using test = await createTestDatabase();
  const db = connectPostgres(test.url, { max: 1 });
  const killer = connectPostgres(test.url, { max: 1 });
  try {
    const sleeping = db.query("SELECT pg_sleep(30) AS slept");
    sleeping.catch(() => {});
    let killed = 0;
    for (let i = 0; i < 100 && killed === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const rows = await killer.query<{ killed: boolean }>(
        `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
          WHERE datname = current_database() AND query = 'SELECT pg_sleep(30) AS slept'`,
      );
      killed = rows.length;
    }
    equal(killed, 1);
    await rejects(sleeping, (error: Error) => {
      ok(error instanceof DatabaseUnavailableError, String(error));
      return true;
    });
    // The pool reconnects. postgres.js 3.4 may hand the stale FATAL to the next query once;
    // that too must come out as DatabaseUnavailableError.
    let recovered = false;
    for (let attempt = 0; attempt < 3 && !recovered; attempt++) {
      try {
        deepEqual(await db.query("SELECT 1 AS one"), [{ one: 1 }]);
        recovered = true;
      } catch (error) {
        ok(error instanceof DatabaseUnavailableError, String(error));
      }
    }
    ok(recovered);
  } finally {
    await killer.close();
    await db.close();
  }
});

Deno.test("openPglite() maps use after close to DatabaseUnavailableError", async () => {
  const db = await openPglite();
  await db.close();
  await rejects(db.query("SELECT 1"), DatabaseUnavailableError);
});

Deno.test("the same load and item queries give the same answers on PGlite and PostgreSQL", async () => {
  const options = { facilityLimit: 20, months: 6, seed: 4 };
  const lite = await openPglite();
  await using test = await createTestDatabase();
  try {
    const a = await loadInstance(lite, options);
    const b = await loadInstance(test.db, options);
    equal(a.hmisRows, b.hmisRows);
    equal(a.resultsRows, b.resultsRows);
    const pos = await listPresentationObjects(lite, "demo");
    equal(pos.length, 8);
    let ok_ = 0;
    for (const summary of pos) {
      const po = (await getPresentationObject(lite, "demo", summary.poId))!;
      const onLite = await fetchPoItems(lite, po);
      deepEqual(onLite, await fetchPoItems(test.db, po), summary.poId);
      if (onLite.status === "ok") ok_++;
    }
    ok(ok_ >= 6, `${ok_} of 8 presentation objects have data over 6 months`);

    const result = await fetchPoItems(lite, {
      resultsObjectId: "ro_m001_hmis",
      config: { fetch: { values: [{ prop: "count", func: "SUM" }], groupBys: ["indicator_id"] } },
    });
    if (result.status !== "ok") throw new Error(result.status);
    deepEqual(result.dateRange, { min: 202507, max: 202512 });
    const totals = await lite.query<{ indicator_id: string; total: number }>(
      "SELECT indicator_id, sum(count) AS total FROM dataset_hmis GROUP BY 1 ORDER BY 1",
    );
    deepEqual(result.items, totals.map((t) => ({ indicator_id: t.indicator_id, count: t.total })));
  } finally {
    await lite.close();
  }
});
