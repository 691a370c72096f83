/**
 * The version state of the instance (or one project), read from the version columns every
 * write bumps: the single source of truth for the SSE `starting` message.
 *
 * @module
 */
import type { Db } from "../db.ts";
import type { CacheEvent, VersionState } from "./types.ts";

/**
 * Reads every version (structure, datasets, modules, presentation objects), one query. Keys
 * come in a stable order, so two reads of the same versions serialize alike.
 *
 * @param projectId Only this project (others are left out); all projects when absent.
 * @returns The state; a project that does not exist is absent from `projects`.
 */
export async function readVersionState(db: Db, projectId?: string): Promise<VersionState> {
  const rows = await db.query<
    { kind: string; projectId: string | null; id: string | null; version: string | null }
  >(
    `SELECT 'structure' AS kind, NULL AS "projectId", NULL AS id, version::text AS version
       FROM structure_meta
     UNION ALL
     SELECT 'dataset', NULL, dataset_id, version::text FROM dataset_versions
     UNION ALL
     SELECT 'project', project_id, NULL, NULL FROM projects
      WHERE $1::text IS NULL OR project_id = $1
     UNION ALL
     SELECT 'module', project_id, module_id, iso_ts(last_run) FROM modules
      WHERE $1::text IS NULL OR project_id = $1
     UNION ALL
     SELECT 'po', project_id, po_id, iso_ts(last_updated) FROM presentation_objects
      WHERE $1::text IS NULL OR project_id = $1
     ORDER BY 1, 2, 3`,
    [projectId ?? null],
  );
  const state: VersionState = { structure: "0", datasets: { hmis: "0", hfa: "0" }, projects: {} };
  const project = (id: string) => state.projects[id] ??= { modules: {}, presentationObjects: {} };
  for (const row of rows) {
    if (row.kind === "structure") state.structure = row.version ?? "0";
    else if (row.kind === "dataset" && (row.id === "hmis" || row.id === "hfa")) {
      state.datasets[row.id] = row.version ?? "0";
    } else if (row.kind === "project") project(row.projectId!);
    else if (row.kind === "module") project(row.projectId!).modules[row.id!] = row.version;
    else if (row.kind === "po") {
      project(row.projectId!).presentationObjects[row.id!] = row.version!;
    }
  }
  return state;
}

/**
 * Applies a version event to a state read earlier, when the event's version is newer than
 * the state's (versions only move forward), so a state read before a write committed
 * still reflects it once its event has arrived.
 *
 * @returns Whether the state changed.
 */
export function applyEventToState(state: VersionState, event: CacheEvent): boolean {
  switch (event.type) {
    case "structure_imported":
      if (!newer(event.version, state.structure, true)) return false;
      state.structure = event.version;
      return true;
    case "dataset_imported":
      if (!newer(event.version, state.datasets[event.datasetId], true)) return false;
      state.datasets[event.datasetId] = event.version;
      return true;
    case "module_run": {
      const project = state.projects[event.projectId];
      if (!project || !newer(event.version, project.modules[event.moduleId] ?? null, false)) {
        return false;
      }
      project.modules[event.moduleId] = event.version;
      return true;
    }
    case "presentation_object_updated": {
      const project = state.projects[event.projectId];
      if (!project || !newer(event.version, project.presentationObjects[event.poId], false)) {
        return false;
      }
      project.presentationObjects[event.poId] = event.version;
      return true;
    }
    case "invalidated":
      return false;
  }
}

/** Counters compare as numbers; ISO timestamps of one format compare as text. */
function newer(candidate: string, current: string | null | undefined, numeric: boolean): boolean {
  if (current === null || current === undefined) return true;
  return numeric ? Number(candidate) > Number(current) : candidate > current;
}
