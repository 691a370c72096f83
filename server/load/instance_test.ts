import { deepEqual, equal, ok } from "node:assert/strict";
import { createTestDatabase, loadSmallFixture } from "../testing/pg.ts";
import { loadInstance } from "./instance.ts";
import { findDefaultGrid3Csv } from "./grid3.ts";

const count = async (db: { query: <R>(t: string) => Promise<R[]> }, table: string) =>
  (await db.query<{ n: number }>(`SELECT count(*) AS n FROM ${table}`))[0].n;

Deno.test("loadInstance() loads the small fixture and bumps versions on reload", async () => {
  await using test = await createTestDatabase();
  const { db } = test;
  const first = await loadSmallFixture(db);

  equal(first.source, (await findDefaultGrid3Csv()) ?? "synthetic");
  equal(first.facilities, 120);
  equal(await count(db, "facilities"), 120);
  equal(await count(db, "admin_areas_1"), 1);
  equal(await count(db, "admin_areas_2"), first.adminAreas.states);
  equal(await count(db, "admin_areas_3"), first.adminAreas.lgas);
  equal(await count(db, "admin_areas_4"), first.adminAreas.wards);
  equal(await count(db, "indicators"), 12);
  equal(first.indicators, 12);
  equal(await count(db, "dataset_hmis"), first.hmisRows);
  ok(first.hmisRows > 20_000 && first.hmisRows < 120 * 12 * 24, String(first.hmisRows));
  equal(await count(db, "dataset_hfa"), first.hfaRows);
  equal(await count(db, "results_hmis"), first.hmisRows);
  equal(first.resultsRows, first.hmisRows);
  equal(await count(db, "presentation_objects"), 8);
  equal(first.presentationObjects, 8);
  deepEqual(first.versions, { structure: 1, hmis: 1, hfa: 1 });
  const [periods] = await db.query<{ min: number; max: number; n: number }>(
    "SELECT min(period_id) AS min, max(period_id) AS max, count(DISTINCT period_id) AS n FROM dataset_hmis",
  );
  deepEqual(periods, { min: 202401, max: 202512, n: 24 });
  const [{ migrations }] = await db.query<{ migrations: number }>(
    "SELECT count(*) AS migrations FROM schema_migrations",
  );
  ok(migrations >= 3);

  const second = await loadSmallFixture(db);
  deepEqual(second.versions, { structure: 2, hmis: 2, hfa: 2 });
  equal(second.hmisRows, first.hmisRows, "same seed, same data");
  ok(second.moduleLastRun > first.moduleLastRun);
  equal(await count(db, "dataset_hmis"), first.hmisRows);
  equal(await count(db, "results_hmis"), first.hmisRows);
  equal(await count(db, "projects"), 1);
  // The previous results partition was dropped, not left behind.
  equal(await count(db, "results_partitions"), 1);
  const [{ partitions }] = await db.query<{ partitions: number }>(
    "SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = 'results_hmis'::regclass",
  );
  equal(partitions, 1);
});

Deno.test("loadInstance() scales facilities with distinct ids and areas", async () => {
  await using test = await createTestDatabase();
  const lines: string[] = [];
  const summary = await loadInstance(test.db, {
    facilityLimit: 10,
    months: 3,
    scale: 2,
    seed: 5,
    log: (line) => lines.push(line),
  });
  equal(summary.facilities, 20);
  equal(summary.adminAreas.states, 2);
  const ids = await test.db.query<{ facility_id: string }>(
    "SELECT facility_id FROM facilities WHERE facility_id LIKE '%-r2' ORDER BY 1",
  );
  equal(ids.length, 10);
  ok(lines.some((line) => line.startsWith("hmis v1:")), lines.join("\n"));
});
