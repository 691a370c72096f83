import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { createTestDatabase, loadSmallFixture } from "../testing/pg.ts";
import { getModuleLastRun, NotFoundError, runModule } from "./mod.ts";

Deno.test("runModule() recomputes results and bumps last_run", async () => {
  await using test = await createTestDatabase();
  const { db } = test;
  const summary = await loadSmallFixture(db);

  const before = await getModuleLastRun(db, "demo", "m001");
  equal(before, summary.moduleLastRun);
  ok(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(before!), before!);

  // Make one value an obvious data-entry error.
  const [target] = await db.query<{ facility_id: string; indicator_id: string; period_id: number }>(
    `SELECT facility_id, indicator_id, period_id FROM dataset_hmis
      WHERE indicator_id = 'anc1' AND count > 5 ORDER BY facility_id, period_id LIMIT 1`,
  );
  await db.query(
    `UPDATE dataset_hmis SET count = 99999
      WHERE facility_id = $1 AND indicator_id = $2 AND period_id = $3`,
    [target.facility_id, target.indicator_id, target.period_id],
  );
  const run = await runModule(db, "demo", "m001");
  equal(run.rows, summary.hmisRows);
  ok(run.lastRun > before!);
  ok(run.ms >= 0);
  equal(await getModuleLastRun(db, "demo", "m001"), run.lastRun);

  const [row] = await db.query<{ count: number; count_adjusted: number; outlier: number }>(
    `SELECT count, count_adjusted, outlier FROM results_hmis
      WHERE facility_id = $1 AND indicator_id = $2 AND period_id = $3`,
    [target.facility_id, target.indicator_id, target.period_id],
  );
  equal(row.count, 99999);
  equal(row.outlier, 1);
  const [{ median }] = await db.query<{ median: number }>(
    `SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY count) AS median FROM dataset_hmis
      WHERE facility_id = $1 AND indicator_id = $2`,
    [target.facility_id, target.indicator_id],
  );
  equal(row.count_adjusted, median);

  // Results agree with the dataset row for row, and only one partition is attached.
  const [check] = await db.query<{ missing: number; partitions: number }>(
    `SELECT (SELECT count(*) FROM dataset_hmis h WHERE NOT EXISTS (
               SELECT 1 FROM results_hmis r WHERE r.facility_id = h.facility_id
                  AND r.indicator_id = h.indicator_id AND r.period_id = h.period_id
                  AND r.count = h.count)) AS missing,
            (SELECT count(*) FROM pg_inherits WHERE inhparent = 'results_hmis'::regclass)
              AS partitions`,
  );
  deepEqual(check, { missing: 0, partitions: 1 });
});

Deno.test("getModuleLastRun() and runModule() reject an unknown module", async () => {
  await using test = await createTestDatabase();
  await loadSmallFixture(test.db);
  await rejects(getModuleLastRun(test.db, "demo", "m999"), NotFoundError);
  await rejects(runModule(test.db, "nope", "m001"), (error: Error) => {
    ok(error instanceof NotFoundError);
    equal(error.message, "No module 'nope/m001'");
    return true;
  });
});
