import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { createTestDatabase, loadSmallFixture } from "../testing/pg.ts";
import { INDICATORS } from "../load/mod.ts";
import { getMetricInfo, getReplicantOptions, NotFoundError, ValidationError } from "./mod.ts";

Deno.test("getMetricInfo() and getReplicantOptions() describe the results", async (t) => {
  await using test = await createTestDatabase();
  const { db } = test;
  await loadSmallFixture(db);

  await t.step(
    "getMetricInfo() reports periods and distinct values per disaggregation",
    async () => {
      const info = await getMetricInfo(db, "demo", "met_counts");
      equal(info.moduleId, "m001");
      equal(info.resultsObjectId, "ro_m001_hmis");
      deepEqual(info.valueProps, ["count", "count_adjusted"]);
      deepEqual(info.periodRange, { min: 202401, max: 202512 });
      const [expected] = await db.query<Record<string, number>>(
        `SELECT count(DISTINCT r.admin_area_2) AS admin_area_2,
              count(DISTINCT r.admin_area_3) AS admin_area_3,
              count(DISTINCT (r.admin_area_3, r.admin_area_4)) AS admin_area_4,
              count(DISTINCT r.facility_id) AS facility_id,
              count(DISTINCT r.indicator_id) AS indicator_id,
              count(DISTINCT r.period_id) AS period_id,
              count(DISTINCT f.facility_level) AS facility_level,
              count(DISTINCT f.ownership) AS ownership
         FROM results_hmis r JOIN facilities f USING (facility_id)`,
      );
      deepEqual(
        Object.fromEntries(info.disaggregationOptions.map((o) => [o.col, o.valueCount])),
        expected,
      );
      equal(expected.period_id, 24);
      equal(expected.indicator_id, 12);
      await rejects(getMetricInfo(db, "demo", "nope"), NotFoundError);
    },
  );

  await t.step("getReplicantOptions() lists values with labels", async () => {
    const indicators = await getReplicantOptions(db, "demo", "met_counts", "indicator_id");
    deepEqual(indicators, INDICATORS.map((i) => ({ value: i.indicatorId, label: i.label })));
    const periods = await getReplicantOptions(db, "demo", "met_counts", "period_id");
    equal(periods.length, 24);
    deepEqual(periods[0], { value: 202401, label: "Jan 2024" });
    const wards = await getReplicantOptions(db, "demo", "met_counts", "admin_area_4");
    const [{ n }] = await db.query<{ n: number }>(
      "SELECT count(DISTINCT (admin_area_3, admin_area_4)) AS n FROM results_hmis",
    );
    equal(wards.length, n);
    ok(wards.every((w) => w.parent && w.label === `${w.value} (${w.parent})`));
    const lgas = await getReplicantOptions(db, "demo", "met_counts", "admin_area_3");
    ok(lgas.every((l) => l.parent === undefined && l.label === l.value));
    const levels = await getReplicantOptions(db, "demo", "met_counts", "facility_level");
    ok(levels.some((l) => l.value === "Primary"));
    const facilities = await getReplicantOptions(db, "demo", "met_outliers", "facility_id");
    equal(facilities.length, 120);
  });

  await t.step("getReplicantOptions() rejects columns outside the allowlist", async () => {
    for (const col of ["facility_name", "count", "indicator_id; DROP TABLE x"]) {
      await rejects(getReplicantOptions(db, "demo", "met_counts", col), (error: Error) => {
        ok(error instanceof ValidationError);
        equal(error.field, "replicateBy");
        return true;
      });
    }
    await rejects(getReplicantOptions(db, "demo", "nope", "indicator_id"), NotFoundError);
  });
});
