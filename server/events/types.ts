/**
 * The typed events of the server, and the version state a browser starts from.
 *
 * @module
 */
import type { ServerEntity } from "./entities.ts";

/** Fields every event carries. */
export interface EventBase {
  /**
   * The event's number: increasing per instance, the SSE `id` (so `Last-Event-ID` can
   * resume). Given when the event is raised.
   */
  seq: number;
  /** The invalidation's unique id (UUID); a mirrored copy keeps it, so duplicates are idempotent. */
  eventId: string;
  /** The entity that changed (the root of the cascade). */
  entity: ServerEntity;
  /** Every entity type the change reached in the graph, the root first. */
  affected: ServerEntity[];
  /** Where it happened: this instance's id, or `mirror:<instance>` for a mirrored invalidation. */
  origin: string;
  /** When it was raised, epoch ms. */
  at: number;
}

/** A module ran: its results, metrics and items have a new version (`last_run`). */
export interface ModuleRunEvent extends EventBase {
  type: "module_run";
  entity: "module";
  projectId: string;
  moduleId: string;
  /** The new `modules.last_run`, ISO-8601 UTC with microseconds. */
  version: string;
}

/** A presentation object was edited: its detail and items have a new version (`last_updated`). */
export interface PresentationObjectUpdatedEvent extends EventBase {
  type: "presentation_object_updated";
  entity: "presentation_object";
  projectId: string;
  poId: string;
  /** The new `presentation_objects.last_updated`, ISO-8601 UTC with microseconds. */
  version: string;
}

/** A dataset was imported (`dataset_versions.version` bumped). */
export interface DatasetImportedEvent extends EventBase {
  type: "dataset_imported";
  entity: "dataset";
  datasetId: "hmis" | "hfa";
  /** The new import counter. */
  version: string;
}

/** The structure (admin areas, facilities, indicators) was imported (`structure_meta.version`). */
export interface StructureImportedEvent extends EventBase {
  type: "structure_imported";
  entity: "structure";
  /** The new structure version. */
  version: string;
}

/**
 * An explicit invalidation (`POST /api/cache/invalidate`, by an administrator or a mirror):
 * no version changed here, but what the entity reaches must be dropped.
 */
export interface InvalidatedEvent extends EventBase {
  type: "invalidated";
  /** One entity of that type, or all of them when absent. */
  id?: string;
  /** The project it belongs to, when it belongs to one. */
  projectId?: string;
  /** Why: `admin`, or `mirror from <instance>`. */
  reason: string;
}

/** Every event the server raises. */
export type CacheEvent =
  | ModuleRunEvent
  | PresentationObjectUpdatedEvent
  | DatasetImportedEvent
  | StructureImportedEvent
  | InvalidatedEvent;

/** The event types, as SSE event names. */
export type CacheEventType = CacheEvent["type"];

/** What a caller gives to raise an event: the fields that are not filled in for it. */
export type EventInput =
  | Omit<ModuleRunEvent, keyof EventBase | "entity"> & Partial<Pick<EventBase, "eventId">>
  | Omit<PresentationObjectUpdatedEvent, keyof EventBase | "entity">
    & Partial<Pick<EventBase, "eventId">>
  | Omit<DatasetImportedEvent, keyof EventBase | "entity"> & Partial<Pick<EventBase, "eventId">>
  | Omit<StructureImportedEvent, keyof EventBase | "entity"> & Partial<Pick<EventBase, "eventId">>
  | Omit<InvalidatedEvent, keyof EventBase>
    & { entity: ServerEntity }
    & Partial<
      Pick<EventBase, "eventId" | "origin">
    >;

/** Versions of one project: what its cached views are derived from. */
export interface ProjectVersions {
  /** `modules.last_run` by module id (null: not run since the last load). */
  modules: Record<string, string | null>;
  /** `presentation_objects.last_updated` by presentation object id. */
  presentationObjects: Record<string, string>;
}

/**
 * The full current version state, sent as the SSE `starting` message: a browser drops
 * whatever it holds for another version.
 */
export interface VersionState {
  /** `structure_meta.version` ("0" before the first import). */
  structure: string;
  /** `dataset_versions.version` per dataset ("0" before the first import). */
  datasets: { hmis: string; hfa: string };
  /** Versions per project (one project on the per-project stream). */
  projects: Record<string, ProjectVersions>;
}

/** An event as it travels on the bus (its number travels beside it). */
export type UnnumberedEvent = CacheEvent extends infer E
  ? (E extends unknown ? Omit<E, "seq"> : never)
  : never;
