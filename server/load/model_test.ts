import { deepEqual, equal, notDeepEqual, ok, throws } from "node:assert/strict";
import { syntheticFacilities } from "./grid3.ts";
import {
  HFA_TIME_POINTS,
  HFA_VARS,
  INDICATORS,
  modelHfa,
  modelHmis,
  periodsEndingAt,
} from "./model.ts";

const facilities = syntheticFacilities(300, 3);

Deno.test("periodsEndingAt() lists YYYYMM periods across years", () => {
  deepEqual(periodsEndingAt(202502, 4), [202411, 202412, 202501, 202502]);
  equal(periodsEndingAt(202512, 60)[0], 202101);
  throws(() => periodsEndingAt(202513, 2), RangeError);
  throws(() => periodsEndingAt(202512, 0), RangeError);
});

Deno.test("modelHmis() is deterministic per seed", () => {
  const a = [...modelHmis(facilities.slice(0, 40), { seed: 1, months: 12 })];
  const b = [...modelHmis(facilities.slice(0, 40), { seed: 1, months: 12 })];
  const c = [...modelHmis(facilities.slice(0, 40), { seed: 2, months: 12 })];
  deepEqual(a, b);
  notDeepEqual(a, c);
  // A facility's rows do not depend on the other facilities.
  const one = [...modelHmis([facilities[5]], { seed: 1, months: 12 })];
  deepEqual(one, a.filter((r) => r.facilityId === facilities[5].facilityId));
});

Deno.test("modelHmis() is plausible: tertiary >> primary, gaps, outliers, 60 months to 202512", () => {
  const rows = [...modelHmis(facilities, { seed: 1 })];
  const periods = new Set(rows.map((r) => r.periodId));
  equal(periods.size, 60);
  equal(Math.max(...periods), 202512);
  equal(Math.min(...periods), 202101);
  deepEqual(new Set(rows.map((r) => r.indicatorId)), new Set(INDICATORS.map((i) => i.indicatorId)));
  ok(rows.every((r) => Number.isInteger(r.count) && r.count >= 0));

  const level = new Map(facilities.map((f) => [f.facilityId, f.facilityLevel]));
  const mean = (lvl: string) => {
    const xs = rows.filter((r) => level.get(r.facilityId) === lvl && r.indicatorId === "opd_total");
    return xs.reduce((s, r) => s + r.count, 0) / xs.length;
  };
  ok(mean("Secondary") > 2 * mean("Primary"), `${mean("Secondary")} vs ${mean("Primary")}`);
  ok(facilities.some((f) => f.facilityLevel === "Tertiary"), "the sample has a tertiary facility");
  ok(mean("Tertiary") > 5 * mean("Primary"), `${mean("Tertiary")} vs ${mean("Primary")}`);

  // Incomplete reporting: fewer rows than facility × indicator × month.
  const full = facilities.length * INDICATORS.length * 60;
  ok(rows.length < 0.95 * full && rows.length > 0.5 * full, `${rows.length} of ${full}`);
  const anc1 = rows.filter((r) => r.indicatorId === "anc1");
  const missingMonths = facilities.length * 60 - anc1.length;
  ok(missingMonths > 0);

  // Some data-entry outliers: a value far above the facility's own median.
  const byKey = Map.groupBy(rows, (r) => `${r.facilityId}/${r.indicatorId}`);
  let outliers = 0;
  for (const series of byKey.values()) {
    const sorted = series.map((r) => r.count).sort((x, y) => x - y);
    const median = sorted[Math.floor(sorted.length / 2)];
    outliers += series.filter((r) => r.count > 3 * median && r.count >= 10).length;
  }
  ok(outliers > 0 && outliers < rows.length * 0.02, `${outliers} outliers`);
});

Deno.test("modelHfa() samples facilities at both time points, deterministically", () => {
  const a = [...modelHfa(facilities, { seed: 1 })];
  deepEqual(a, [...modelHfa(facilities, { seed: 1 })]);
  notDeepEqual(a, [...modelHfa(facilities, { seed: 2 })]);
  const assessed = new Set(a.map((r) => r.facilityId));
  ok(assessed.size > 0.2 * facilities.length && assessed.size < 0.5 * facilities.length);
  equal(a.length, assessed.size * HFA_VARS.length * HFA_TIME_POINTS.length);
  ok(a.filter((r) => r.varName === "has_electricity").every((r) => r.value === 0 || r.value === 1));
  ok(a.filter((r) => r.varName === "readiness_score").every((r) => r.value >= 0 && r.value <= 100));
});
