import { deepEqual, equal, ok, rejects, throws } from "node:assert/strict";
import {
  DEFAULT_GRID3_CSV,
  findDefaultGrid3Csv,
  Grid3FormatError,
  parseGrid3Facilities,
  readGrid3Facilities,
  replicateFacilities,
  syntheticFacilities,
} from "./grid3.ts";

const realCsv = await findDefaultGrid3Csv();
const QUOTED = new URL("./testdata/grid3_quoted_names.csv", import.meta.url).pathname;

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

Deno.test({
  name: "readGrid3Facilities() reads the real Kano file: 1,723 facilities, 44 LGAs, 494 wards",
  ignore: realCsv === undefined,
  async fn() {
    const facilities = await readGrid3Facilities(realCsv!);
    equal(facilities.length, 1723);
    equal(new Set(facilities.map((f) => f.adminArea3)).size, 44);
    equal(new Set(facilities.map((f) => `${f.adminArea3}/${f.adminArea4}`)).size, 494);
    deepEqual(countBy(facilities, (f) => f.facilityLevel), {
      Primary: 1584,
      Secondary: 132,
      Tertiary: 7,
    });
    deepEqual(countBy(facilities, (f) => f.ownership), { Public: 1493, Private: 221, Unknown: 9 });
    deepEqual(
      new Set(facilities.map((f) => `${f.adminArea1}/${f.adminArea2}`)),
      new Set(["Nigeria/Kano"]),
    );
    equal(new Set(facilities.map((f) => f.facilityId)).size, 1723, "ids are unique");
    ok(facilities.every((f) => !f.facilityId.endsWith(".0")), "no float suffix");
    const first = facilities[0];
    equal(first.facilityId, "21117361");
    equal(first.facilityName, "Yadakunya Leprosy General Hospital");
    equal(first.latitude, 12.0839139997);
    // Rows without nhfr_uid fall back to the globalid (a UUID).
    const byGlobalId = facilities.filter((f) => /^[0-9a-f-]{36}$/.test(f.facilityId));
    ok(byGlobalId.length > 0);
  },
});

Deno.test("readGrid3Facilities() keeps quoted commas and quotes in names", async () => {
  const facilities = await readGrid3Facilities(QUOTED);
  deepEqual(facilities.map((f) => f.facilityName), [
    "Yadakunya Leprosy Hospital, Annex",
    'Dugabau "Model" Clinic, Kabo',
    "Late Musa Saleh Kwankwaso Health Clinic",
  ]);
  deepEqual(facilities.map((f) => f.facilityId), [
    "21117361",
    "a4df570b-3847-4804-b003-76b63118d3d3",
    "85019835",
  ]);
  equal(facilities[1].ownershipType, null);
  equal(facilities[2].latitude, null);
  equal(facilities[2].longitude, null);
});

Deno.test("readGrid3Facilities() names the missing column and the file", async () => {
  const text = await Deno.readTextFile(QUOTED);
  const dir = await Deno.makeTempDir({ prefix: "wb-grid3-" });
  try {
    const path = `${dir}/no_ward.csv`;
    await Deno.writeTextFile(path, text.replace(",ward,", ",wardname,"));
    await rejects(readGrid3Facilities(path), (error: Error) => {
      ok(error instanceof Grid3FormatError);
      equal(error.code, "GRID3_FORMAT");
      ok(error.message.includes(path), error.message);
      ok(error.message.includes("missing GRID3 column 'ward'"), error.message);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseGrid3Facilities() rejects empty LGAs and duplicate ids with the row number", async () => {
  const text = await Deno.readTextFile(QUOTED);
  const lines = text.trimEnd().split("\n");
  throws(
    () => parseGrid3Facilities([lines[0], lines[1].replace(",Ungogo,", ",,")].join("\n"), "x.csv"),
    /x\.csv: row 2 has an empty 'lga'/,
  );
  throws(
    () => parseGrid3Facilities([lines[0], lines[1], lines[1]].join("\n"), "x.csv"),
    /rows 2 and 3 share the facility id '21117361'/,
  );
});

Deno.test("DEFAULT_GRID3_CSV points next to the repository", () => {
  const expected = new URL(
    "../../../shared/data/grid3_nga_health_facilities_v2_kano.csv",
    import.meta.url,
  );
  equal(DEFAULT_GRID3_CSV.href, expected.href);
});

Deno.test("syntheticFacilities() has the GRID3 shape and is deterministic", () => {
  const a = syntheticFacilities(400, 7);
  deepEqual(a, syntheticFacilities(400, 7));
  equal(a.length, 400);
  equal(new Set(a.map((f) => f.facilityId)).size, 400);
  const lgas = new Set(a.map((f) => f.adminArea3));
  ok(lgas.size >= 3 && lgas.size <= 5);
  ok(new Set(a.map((f) => `${f.adminArea3}/${f.adminArea4}`)).size > lgas.size);
  const levels = countBy(a, (f) => f.facilityLevel);
  ok(levels.Primary > levels.Secondary, JSON.stringify(levels));
  deepEqual(
    new Set(Object.keys(levels)).isSubsetOf(new Set(["Primary", "Secondary", "Tertiary"])),
    true,
  );
  ok(new Set(a.map((f) => f.ownership)).isSubsetOf(new Set(["Public", "Private", "Unknown"])));
  ok(a.every((f) => f.adminArea1 === "Nigeria" && f.adminArea2 === "Kano"));
  ok(a.every((f) => typeof f.latitude === "number" && typeof f.longitude === "number"));
  throws(() => syntheticFacilities(-1), RangeError);
});

Deno.test("replicateFacilities() makes distinct ids and areas per copy", () => {
  const base = syntheticFacilities(10, 1);
  const scaled = replicateFacilities(base, 3);
  equal(scaled.length, 30);
  equal(new Set(scaled.map((f) => f.facilityId)).size, 30);
  equal(scaled[10].facilityId, `${base[0].facilityId}-r2`);
  equal(scaled[10].adminArea3, `${base[0].adminArea3} r2`);
  equal(replicateFacilities(base, 1), base);
  throws(() => replicateFacilities(base, 0), RangeError);
});
