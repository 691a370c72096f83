/**
 * The writes that bump a version, each followed by its one typed event. Routes and the
 * loader entry call these, never the model's writes directly, so no write goes unannounced
 * and no route builds event messages itself.
 *
 * | write                            | version column                        | event                          |
 * | -------------------------------- | ------------------------------------- | ------------------------------ |
 * | `runModule`                      | `modules.last_run`                    | `module_run`                   |
 * | `updatePresentationObject`       | `presentation_objects.last_updated`   | `presentation_object_updated`  |
 * | `loadInstance` (structure)       | `structure_meta.version`              | `structure_imported`           |
 * | `loadInstance` (each dataset)    | `dataset_versions.version`            | `dataset_imported`             |
 * | `loadInstance` (its module run)  | `modules.last_run`                    | `module_run`                   |
 *
 * The event is raised after the transaction committed, so whoever hears it reads the new
 * version; with a version table (`versions`), after this process's table holds it too
 * (`settle()`), so the next request this process serves sees the write.
 *
 * @module
 */
import type { Db } from "../db.ts";
import {
  DEMO_MODULE_ID,
  DEMO_PROJECT_ID,
  loadInstance,
  type LoadOptions,
  type LoadSummary,
} from "../load/mod.ts";
import {
  type ModuleRun,
  type PoDetail,
  type PoPatch,
  runModule,
  type RunModuleOptions,
  updatePresentationObject,
} from "../model/mod.ts";
import type { ServerEvents } from "./server_events.ts";
import type { VersionSource } from "../versions.ts";

/** Writes that announce themselves. */
export interface VersionedWrites {
  /** `runModule` (model), then `module_run`. */
  runModule(projectId: string, moduleId: string, options?: RunModuleOptions): Promise<ModuleRun>;
  /** `updatePresentationObject` (model), then `presentation_object_updated` when it existed. */
  updatePresentationObject(
    projectId: string,
    poId: string,
    patch: PoPatch,
  ): Promise<PoDetail | undefined>;
  /** `loadInstance` (loader), then `structure_imported`, `dataset_imported` ×2, `module_run`. */
  loadInstance(options?: LoadOptions): Promise<LoadSummary>;
}

/**
 * The versioned writes of `db`, announced through `events`.
 *
 * @param versions The process's version source; each write awaits its `settle()` before
 *   its event. @default {none: nothing to wait for}
 *
 * @example
 * ```ts
 * const writes = versionedWrites(db, events);
 * await writes.runModule("demo", "m001"); // SSE clients of every process hear `module_run`
 * ```
 */
export function versionedWrites(
  db: Db,
  events: ServerEvents,
  versions?: Pick<VersionSource, "settle">,
): VersionedWrites {
  // The write is visible to this process's next request before anyone hears of it.
  const settle = () => versions?.settle() ?? Promise.resolve();
  return {
    async runModule(projectId, moduleId, options) {
      const run = await runModule(db, projectId, moduleId, options);
      await settle();
      await events.raise({ type: "module_run", projectId, moduleId, version: run.lastRun });
      return run;
    },
    async updatePresentationObject(projectId, poId, patch) {
      const updated = await updatePresentationObject(db, projectId, poId, patch);
      await settle();
      if (updated) {
        await events.raise({
          type: "presentation_object_updated",
          projectId,
          poId,
          version: updated.lastUpdated,
        });
      }
      return updated;
    },
    async loadInstance(options) {
      const summary = await loadInstance(db, options);
      await settle();
      await events.raise({
        type: "structure_imported",
        version: String(summary.versions.structure),
      });
      for (const datasetId of ["hmis", "hfa"] as const) {
        await events.raise({
          type: "dataset_imported",
          datasetId,
          version: String(summary.versions[datasetId]),
        });
      }
      await events.raise({
        type: "module_run",
        projectId: DEMO_PROJECT_ID,
        moduleId: DEMO_MODULE_ID,
        version: summary.moduleLastRun,
      });
      return summary;
    },
  };
}
