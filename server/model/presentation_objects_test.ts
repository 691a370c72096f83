import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { createTestDatabase, loadSmallFixture } from "../testing/pg.ts";
import {
  getPresentationObject,
  listPresentationObjects,
  listProjects,
  NotFoundError,
  updatePresentationObject,
  ValidationError,
} from "./mod.ts";

Deno.test("presentation objects: list, get, update", async (t) => {
  await using test = await createTestDatabase();
  const { db } = test;
  await loadSmallFixture(db);

  await t.step("listProjects() lists the sample project", async () => {
    deepEqual(await listProjects(db), [{ projectId: "demo", label: "Kano demo" }]);
  });

  await t.step("listPresentationObjects() lists 8 with ISO versions", async () => {
    const pos = await listPresentationObjects(db, "demo");
    equal(pos.length, 8);
    deepEqual(pos.map((p) => p.poId), [...pos.map((p) => p.poId)].sort());
    for (const po of pos) {
      equal(po.moduleId, "m001");
      ok(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(po.lastUpdated), po.lastUpdated);
      ok(["met_counts", "met_outliers"].includes(po.metricId));
    }
    await rejects(listPresentationObjects(db, "nope"), (error: Error) => {
      ok(error instanceof NotFoundError);
      equal(error.code, "NOT_FOUND");
      equal(error.message, "No project 'nope'");
      return true;
    });
  });

  await t.step("getPresentationObject() returns the detail, undefined when unknown", async () => {
    const po = (await getPresentationObject(db, "demo", "po_anc_by_lga"))!;
    equal(po.projectId, "demo");
    equal(po.metricId, "met_counts");
    equal(po.moduleId, "m001");
    equal(po.resultsObjectId, "ro_m001_hmis");
    deepEqual((po.config.fetch as { groupBys: string[] }).groupBys, [
      "admin_area_3",
      "indicator_id",
    ]);
    equal(await getPresentationObject(db, "demo", "nope"), undefined);
    equal(await getPresentationObject(db, "nope", "po_anc_by_lga"), undefined);
  });

  await t.step(
    "updatePresentationObject() changes label/config and bumps lastUpdated",
    async () => {
      const before = (await getPresentationObject(db, "demo", "po_anc_by_lga"))!;
      const renamed = (await updatePresentationObject(db, "demo", "po_anc_by_lga", {
        label: "  ANC by LGA  ",
      }))!;
      equal(renamed.label, "ANC by LGA");
      deepEqual(renamed.config, before.config);
      ok(renamed.lastUpdated > before.lastUpdated);

      const config = {
        fetch: { values: [{ prop: "count", func: "AVG" }], groupBys: ["ownership"] },
        display: { type: "table" },
      };
      const changed = (await updatePresentationObject(db, "demo", "po_anc_by_lga", { config }))!;
      deepEqual(changed.config, {
        fetch: { values: [{ prop: "count", func: "AVG" }], groupBys: ["ownership"], filters: [] },
        display: { type: "table" },
      });
      equal(changed.label, "ANC by LGA");
      ok(changed.lastUpdated > renamed.lastUpdated);
      deepEqual(await getPresentationObject(db, "demo", "po_anc_by_lga"), changed);

      equal(await updatePresentationObject(db, "demo", "nope", { label: "x" }), undefined);
    },
  );

  await t.step("updatePresentationObject() rejects bad input with ValidationError", async () => {
    const bad: [unknown, string | undefined][] = [
      [{}, undefined],
      [{ label: "" }, "label"],
      [{ label: 5 }, "label"],
      [{ label: "x".repeat(201) }, "label"],
      [{ owner: "me" }, "owner"],
      [{ config: [] }, "config"],
      [{ config: { display: {} } }, "config.fetch"],
      [
        { config: { fetch: { values: [{ prop: "count", func: "EVAL" }] } } },
        "config.fetch.values[0].func",
      ],
    ];
    for (const [patch, field] of bad) {
      await rejects(
        updatePresentationObject(db, "demo", "po_anc_by_lga", patch as never),
        (error: Error) => {
          ok(error instanceof ValidationError, `${JSON.stringify(patch)}: ${error}`);
          equal(error.field, field, error.message);
          return true;
        },
      );
    }
    equal((await getPresentationObject(db, "demo", "po_anc_by_lga"))!.label, "ANC by LGA");
  });
});
