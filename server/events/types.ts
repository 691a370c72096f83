/**
 * The typed events of the server, and the version state a browser starts from.
 *
 * @module
 */
import type * as wire from "../wire.ts";
import type { ServerEntity } from "./entities.ts";

// The shapes are defined once in `wire.ts` (the web client reads them), here narrowed to the
// server's entity names.
/** Fields every event carries (see `wire.ts`). */
export type EventBase = wire.EventBase<ServerEntity>;
/** A module ran (see `wire.ts`). */
export type ModuleRunEvent = wire.ModuleRunEvent<ServerEntity>;
/** A presentation object was edited (see `wire.ts`). */
export type PresentationObjectUpdatedEvent = wire.PresentationObjectUpdatedEvent<ServerEntity>;
/** A dataset was imported (see `wire.ts`). */
export type DatasetImportedEvent = wire.DatasetImportedEvent<ServerEntity>;
/** The structure was imported (see `wire.ts`). */
export type StructureImportedEvent = wire.StructureImportedEvent<ServerEntity>;
/** An explicit invalidation (see `wire.ts`). */
export type InvalidatedEvent = wire.InvalidatedEvent<ServerEntity>;
/** Every event the server raises. */
export type CacheEvent = wire.CacheEvent<ServerEntity>;

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

export type { ProjectVersions, VersionState } from "../wire.ts";

/** An event as it travels on the bus (its number travels beside it). */
export type UnnumberedEvent = CacheEvent extends infer E
  ? (E extends unknown ? Omit<E, "seq"> : never)
  : never;
