import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { createTestDatabase, loadSmallFixture } from "../testing/pg.ts";
import {
  getDatasetVersion,
  getHfaDatasetSummary,
  getHmisDatasetSummary,
  ValidationError,
} from "./mod.ts";

Deno.test("dataset versions and summaries", async (t) => {
  await using test = await createTestDatabase();
  const { db } = test;
  const summary = await loadSmallFixture(db);

  await t.step("getDatasetVersion() returns the import counter", async () => {
    equal(await getDatasetVersion(db, "hmis"), "1");
    equal(await getDatasetVersion(db, "hfa"), "1");
    await rejects(getDatasetVersion(db, "other" as "hmis"), ValidationError);
  });

  await t.step("getHmisDatasetSummary() aggregates per indicator, period and area", async () => {
    const all = await getHmisDatasetSummary(db);
    equal(all.version, "1");
    equal(all.rows, summary.hmisRows);
    equal(all.facilities, 120);
    deepEqual(all.periodRange, { min: 202401, max: 202512 });
    equal(all.byIndicatorPeriod.length, 12 * 24);
    const [{ total }] = await db.query<{ total: number }>(
      "SELECT sum(count)::float8 AS total FROM dataset_hmis",
    );
    equal(all.byIndicatorPeriod.reduce((s, r) => s + r.count, 0), total);
    equal(all.byAdminArea.reduce((s, r) => s + r.count, 0), total);
    equal(new Set(all.byAdminArea.map((r) => r.adminArea)).size, summary.adminAreas.lgas);
    ok(all.byAdminArea.every((r) => r.parent === null && r.facilitiesReporting > 0));

    const anc1 = await getHmisDatasetSummary(db, { indicatorId: "anc1", adminAreaLevel: 4 });
    ok(anc1.byIndicatorPeriod.every((r) => r.indicatorId === "anc1"));
    equal(anc1.byIndicatorPeriod.length, 24);
    const wards = new Set(anc1.byAdminArea.map((r) => `${r.parent}/${r.adminArea}`));
    ok(wards.size > 1 && anc1.byAdminArea.every((r) => typeof r.parent === "string"));
    const [{ reporting }] = await db.query<{ reporting: number }>(
      "SELECT count(*) AS reporting FROM dataset_hmis WHERE indicator_id = 'anc1' AND period_id = 202512",
    );
    equal(anc1.byIndicatorPeriod.at(-1)!.facilitiesReporting, reporting);
    await rejects(getHmisDatasetSummary(db, { adminAreaLevel: 5 as 4 }), ValidationError);
  });

  await t.step("getHfaDatasetSummary() aggregates per variable and time point", async () => {
    const hfa = await getHfaDatasetSummary(db);
    equal(hfa.version, "1");
    deepEqual(hfa.timePoints, ["2023-Q2", "2025-Q2"]);
    equal(hfa.vars.length, 6 * 2);
    equal(hfa.vars.reduce((s, v) => s + v.facilities, 0), summary.hfaRows);
    const electricity = hfa.vars.filter((v) => v.varName === "has_electricity");
    ok(electricity.every((v) => v.mean! >= 0 && v.mean! <= 1));
    ok(electricity[1].mean! >= electricity[0].mean!, "services improve between rounds");
  });
});
