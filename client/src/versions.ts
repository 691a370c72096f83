/**
 * The version state the browser cache keys carry, as the server's event stream tells it:
 * the `starting` message holds the whole state, then each typed event moves one version
 * forward. A key built from a newer version is a miss, so nothing has to find and delete
 * stale entries; an explicit `invalidated` event (no version moved) names the caches to
 * empty instead.
 *
 * Pure functions (no DOM): the event stream itself is `version_feed.ts`.
 *
 * @module
 */
import type { CacheEvent, ProjectVersions, VersionState } from "../../server/wire.ts";
import { uniquenessHash } from "./hash.ts";

export type { ProjectVersions, VersionState } from "../../server/wire.ts";

/** An event of the stream (the server's `CacheEvent`, entity names as strings). */
export type ServerEvent = CacheEvent;

/** The event types, as SSE event names. */
export const EVENT_TYPES: readonly ServerEvent["type"][] = [
  "module_run",
  "presentation_object_updated",
  "dataset_imported",
  "structure_imported",
  "invalidated",
];

/** The caches of the browser. */
export type ClientCache = "po_items" | "po_detail" | "po_list";

/** Which browser caches hold what a server entity reaches. */
const CACHES_OF_ENTITY: Record<string, ClientCache[]> = {
  presentation_object_item: ["po_items"],
  presentation_object: ["po_detail", "po_list"],
};

/**
 * The state after an event: a new object when a version moved forward (versions never go
 * back: ISO timestamps compare as text, counters as numbers), the same object otherwise.
 */
export function applyEvent(state: VersionState, event: ServerEvent): VersionState {
  const newer = (candidate: string, current: string | null | undefined, numeric: boolean) =>
    current === null || current === undefined ||
    (numeric ? Number(candidate) > Number(current) : candidate > current);
  switch (event.type) {
    case "structure_imported":
      return newer(event.version!, state.structure, true)
        ? { ...state, structure: event.version! }
        : state;
    case "dataset_imported": {
      const id = event.datasetId!;
      return newer(event.version!, state.datasets[id], true)
        ? { ...state, datasets: { ...state.datasets, [id]: event.version! } }
        : state;
    }
    case "module_run": {
      const project = state.projects[event.projectId!];
      if (!project || !newer(event.version!, project.modules[event.moduleId!], false)) return state;
      return withProject(state, event.projectId!, {
        ...project,
        modules: { ...project.modules, [event.moduleId!]: event.version! },
      });
    }
    case "presentation_object_updated": {
      const project = state.projects[event.projectId!];
      if (!project || !newer(event.version!, project.presentationObjects[event.poId!], false)) {
        return state;
      }
      return withProject(state, event.projectId!, {
        ...project,
        presentationObjects: { ...project.presentationObjects, [event.poId!]: event.version! },
      });
    }
    case "invalidated":
      return state;
  }
}

function withProject(state: VersionState, id: string, project: ProjectVersions): VersionState {
  return { ...state, projects: { ...state.projects, [id]: project } };
}

/** The browser caches an `invalidated` event empties (from its `affected` entities). */
export function cachesReachedBy(affected: readonly string[]): ClientCache[] {
  return [...new Set(affected.flatMap((entity) => CACHES_OF_ENTITY[entity] ?? []))].sort();
}

/**
 * The version of a presentation object's items: its own `last_updated` (its config) and its
 * module's `last_run` (the data), or undefined when the state does not know them.
 */
export function poItemsVersion(
  state: VersionState | undefined,
  projectId: string,
  po: { poId: string; moduleId: string },
): string | undefined {
  const project = state?.projects[projectId];
  const lastUpdated = project?.presentationObjects[po.poId];
  if (!project || lastUpdated === undefined || !(po.moduleId in project.modules)) return undefined;
  return `${lastUpdated}|${project.modules[po.moduleId] ?? "never"}`;
}

/** The version of a presentation object's detail: its `last_updated`. */
export function poDetailVersion(
  state: VersionState | undefined,
  projectId: string,
  poId: string,
): string | undefined {
  return state?.projects[projectId]?.presentationObjects[poId];
}

/** The version of a project's list of presentation objects: a hash of all their versions. */
export function poListVersion(
  state: VersionState | undefined,
  projectId: string,
): string | undefined {
  const project = state?.projects[projectId];
  return project ? uniquenessHash(project.presentationObjects) : undefined;
}
