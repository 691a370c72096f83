import { equal, ok } from "node:assert/strict";
import { createTestDatabase, loadSmallFixture } from "../testing/pg.ts";
import { getStructure, type StructureNode } from "./mod.ts";

Deno.test("getStructure() returns the admin-area tree with facility counts", async () => {
  await using test = await createTestDatabase();
  const empty = await getStructure(test.db).catch(() => undefined);
  equal(empty, undefined, "tables do not exist before the first load");
  const summary = await loadSmallFixture(test.db);
  const structure = await getStructure(test.db);
  equal(structure.version, 1);
  ok(structure.lastImported && !Number.isNaN(Date.parse(structure.lastImported)));
  equal(structure.facilityCount, 120);
  equal(structure.areas.length, 1);
  const nigeria = structure.areas[0];
  equal(nigeria.name, "Nigeria");
  equal(nigeria.children.length, summary.adminAreas.states);
  const lgas = nigeria.children.flatMap((s) => s.children);
  equal(lgas.length, summary.adminAreas.lgas);
  const wards = lgas.flatMap((l) => l.children);
  equal(wards.length, summary.adminAreas.wards);
  const check = (node: StructureNode): void => {
    if (node.level < 4) {
      equal(node.facilityCount, node.children.reduce((s, c) => s + c.facilityCount, 0));
      node.children.forEach((c) => equal(c.level, node.level + 1));
      node.children.forEach(check);
    } else {
      equal(node.children.length, 0);
      ok(node.facilityCount > 0);
    }
  };
  check(nigeria);
  const [{ n }] = await test.db.query<{ n: number }>(
    "SELECT count(*) AS n FROM facilities WHERE admin_area_3 = $1",
    [lgas[0].name],
  );
  equal(lgas[0].facilityCount, n);
});
