import { deepEqual, equal } from "node:assert/strict";
import { createTestDatabase } from "./testing/pg.ts";
import { listMigrations, migrate } from "./migrate.ts";
import { periodAddMonths } from "./model/mod.ts";

Deno.test("migrate() applies every migration once and is idempotent", async () => {
  await using test = await createTestDatabase();
  const names = await listMigrations();
  deepEqual(names.slice(0, 3), ["001_structure.sql", "002_datasets.sql", "003_projects.sql"]);
  deepEqual(await migrate(test.db), names);
  deepEqual(await migrate(test.db), []);
  const applied = await test.db.query<{ name: string }>(
    "SELECT name FROM schema_migrations ORDER BY name",
  );
  deepEqual(applied.map((r) => r.name), names);
});

Deno.test("migrate() serializes concurrent callers", async () => {
  await using test = await createTestDatabase();
  const [a, b] = await Promise.all([migrate(test.db), migrate(test.db)]);
  equal(a.length + b.length, (await listMigrations()).length);
});

Deno.test("SQL period_add_months() and iso_ts() match the TypeScript helpers", async () => {
  await using test = await createTestDatabase();
  await migrate(test.db);
  const cases: [number, number][] = [[202501, -1], [202412, 1], [202512, -59], [202306, 0], [
    202312,
    -24,
  ]];
  for (const [p, n] of cases) {
    const [{ q }] = await test.db.query<{ q: number }>("SELECT period_add_months($1, $2) AS q", [
      p,
      n,
    ]);
    equal(q, periodAddMonths(p, n), `${p} ${n}`);
  }
  const [{ iso }] = await test.db.query<{ iso: string }>(
    "SELECT iso_ts('2025-03-04 05:06:07.123456+01'::timestamptz) AS iso",
  );
  equal(iso, "2025-03-04T04:06:07.123456Z");
});
