/**
 * Wire types: the JSON shapes the server sends that the web client reads, defined once. This
 * module is types only and imports nothing, so the client (`client/src/`) imports it as it
 * is and a change of shape is a type error on both sides: the server's producers are typed
 * with these shapes (their model types re-export them, their routes check the answer with
 * `satisfies`), and the client reads its answers as them.
 *
 * Where the server knows narrower names (entity names, value columns), a shape takes them as
 * type parameters that default to `string`: the server narrows, the client reads strings.
 *
 * @module
 */

/** How a number of a measure is written: a count, a decimal, or a share (0 to 1) as a percentage. */
export type NumberFormat = "integer" | "decimal" | "percent";

/** One measure: an aggregate over a value column. */
export interface MeasureLabel {
  /** e.g. "Average adjusted count". */
  label: string;
  /** What one unit is, e.g. "services per facility-month"; the axis title's parenthesis. */
  unit: string;
  /** How to write its numbers. */
  format: NumberFormat;
}

/**
 * `GET /api/labels`: the label dictionary. The key parameters narrow the records on the
 * server (its column, value and aggregate names); the client reads them keyed by any string.
 */
export interface LabelsWire<
  Column extends string = string,
  Level extends string = string,
  Prop extends string = string,
  Agg extends string = string,
> {
  /** The HMIS dataset version the labels belong to (its import counter). */
  version: string;
  /** A group column's name, e.g. `admin_area_3` → "LGA". */
  columns: Record<Column, string>;
  /** Admin levels 1-4, e.g. 3 → "LGA". */
  adminLevels: Record<Level, string>;
  /** A value column's name, e.g. `count_adjusted` → "Adjusted count". */
  values: Record<Prop, { label: string; description: string }>;
  /** An aggregate's name, e.g. `AVG` → "Average". */
  aggregates: Record<Agg, string>;
  /** Every aggregate of every value column, keyed `FUNC(prop)`, e.g. `AVG(count_adjusted)`. */
  measures: Record<string, MeasureLabel>;
  /** Indicator labels by id, in the dataset's display order. */
  indicators: Record<string, string>;
  /** Month labels (`"Jan 2025"`) of every period of the dataset, keyed YYYYMM. */
  periods: Record<string, string>;
}

/** Redis as an instance sees it: `up`, `down` (configured, not answering) or `disabled`. */
export type RedisStatus = "up" | "down" | "disabled";

/** The in-process L1 in front of Redis (the library's `L1Stats`). */
export interface CacheL1Stats {
  /** Reads answered from the L1. */
  hits: number;
  /** Reads the L1 could not answer. */
  misses: number;
  /** Invalidation pushes applied (a key, a list of keys, or a flush each). */
  invalidations: number;
  /** Entries held now. */
  entries: number;
  /** Approximate size of the held entries, in bytes. */
  bytes: number;
}

/** The last flush of every cache (`wb:last_flush`). */
export interface FlushRecord {
  /** When, ISO-8601. */
  at: string;
  /** Who: an administrator's e-mail, `admin token`, or `release <version>` (boot). */
  by: string;
  /** `flush-all` (`POST /caches/flush-all`) or `release` (a new cache format at boot). */
  reason: "flush-all" | "release";
  /**
   * What happened to Redis: `flushed`, `unavailable` (configured but down, or some master
   * not flushed) or `disabled`.
   */
  redis: "flushed" | "unavailable" | "disabled";
  /** The server's release. */
  serverVersion: string;
}

/** Reads of one cache in one server process. */
export interface ReadCounts {
  hits: number;
  misses: number;
  /** Reads that went around the cache (Redis down or off). */
  bypass: number;
}

/** One cache prefix's row of {@linkcode CacheStats}. */
export interface PrefixStats extends ReadCounts {
  prefix: string;
  /** Keys `cache:<prefix>:*` found (a lower bound when truncated). */
  keys: number;
  /** Estimated bytes (sampled `MEMORY USAGE` × keys), or null without Redis. */
  memoryBytes: number | null;
  /** Keys whose `MEMORY USAGE` was read. */
  memorySampled: number;
  /** hits / (hits + misses), or null before the first read. */
  hitRatio: number | null;
}

/** The cache report of one server process (`server/cache_stats.ts`). */
export interface CacheStats {
  redis: RedisStatus;
  /** Redis `used_memory` in bytes (summed over the masters), when Redis answered. */
  redisUsedMemoryBytes: number | null;
  prefixes: PrefixStats[];
  /** Keys the scan looked at. */
  scannedKeys: number;
  /** Whether a bound stopped the scan before the end. */
  truncated: boolean;
  /** How long the scan took, in ms. */
  scanMs: number;
  /** The in-process L1 in front of Redis, when there is one. */
  l1: CacheL1Stats | null;
  lastFlush: FlushRecord | null;
  /** Since when the hit counts run (ISO-8601; the process's start). */
  countsSince: string;
}

/**
 * `GET /api/admin/caches`: the report, and the clears this process could not land in Redis
 * yet, by cache (only caches that have some).
 */
export interface CacheStatsAnswer extends CacheStats {
  pendingClears: Record<string, { keys: number; all: boolean }>;
}

/** `GET /api/auth/me`: who is calling (never a 401: anonymous callers get `role: null`). */
export interface Me {
  role: "viewer" | "admin" | null;
  /** How the role was decided. `bearer-invalid`: a token was sent that matches nothing. */
  via: "bearer" | "bearer-invalid" | "session" | "open" | "none";
  /** The user's e-mail, for a session. */
  email?: string;
  isAdmin: boolean;
  /** Whether anonymous callers are viewers (`OPEN_ACCESS`). */
  openAccess: boolean;
  /** Whether the request came over HTTPS (the session cookie is then `__Host-`). */
  secureTransport: boolean;
  /** The instance id. */
  instance: string;
}

/** `POST /api/auth/login`: the user the login link belonged to. */
export interface LoginAnswer {
  email: string;
  isAdmin: boolean;
  /** Over plain HTTP: why the session cookie is exposed. */
  warning?: string;
}

/** `GET /api/instance_meta`: the instance and its release. */
export interface InstanceMeta {
  /** The server's release version. */
  serverVersion: string;
  /** The format of the stored cache values (a change flushes the caches). */
  cacheFormatVersion: number;
  instance: string;
  redis: RedisStatus;
  /** When the process started, ISO-8601. */
  startedAt: string;
}

/** The instance overview (`server/model/overview.ts`). Periods are YYYYMM. */
export interface InstanceOverview {
  /** The latest period with data, or null for an empty dataset. */
  latestPeriod: number | null;
  /** Facilities in the structure. */
  facilities: number;
  /** Facilities that reported anything, per period, over the last 12 periods. */
  reportingByMonth: { periodId: number; facilitiesReporting: number }[];
  /**
   * Reporting completeness per LGA (admin area 3) over the last 12 periods: facility-months
   * with any report over facility-months expected, 0 to 1.
   */
  completenessByLga: { adminArea3: string; facilities: number; completeness: number }[];
  /** Totals per indicator in the latest period (the last 30 days of monthly data). */
  latestTotals: { indicatorId: string; label: string; total: number }[];
}

/**
 * `GET /api/instance/overview`: the overview and when it was computed (ISO-8601). The
 * window headers (`X-Cache`, `X-Window-*`, `X-Refresh-Ms`) say when to ask again.
 */
export interface InstanceOverviewAnswer extends InstanceOverview {
  computedAt: string;
}

/** Versions of one project: what its cached views are derived from. */
export interface ProjectVersions {
  /** `modules.last_run` by module id (null: not run since the last load). */
  modules: Record<string, string | null>;
  /** `presentation_objects.last_updated` by presentation object id. */
  presentationObjects: Record<string, string>;
}

/**
 * The full current version state, sent in the SSE `starting` message: a browser drops
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

/**
 * Fields every event carries. `Entity` narrows the entity names (the server's graph,
 * `server/events/entities.ts`); a reader that does not know them reads strings.
 */
export interface EventBase<Entity extends string = string> {
  /**
   * The event's number: increasing per instance, the SSE `id` (so `Last-Event-ID` can
   * resume). Given when the event is raised.
   */
  seq: number;
  /** The invalidation's unique id (UUID); a mirrored copy keeps it, so duplicates are idempotent. */
  eventId: string;
  /** The entity that changed (the root of the cascade). */
  entity: Entity;
  /** Every entity type the change reached in the graph, the root first. */
  affected: Entity[];
  /** Where it happened: this instance's id, or `mirror:<instance>` for a mirrored invalidation. */
  origin: string;
  /** When it was raised, epoch ms. */
  at: number;
}

/** A module ran: its results, metrics and items have a new version (`last_run`). */
export interface ModuleRunEvent<Entity extends string = string> extends EventBase<Entity> {
  type: "module_run";
  entity: "module" & Entity;
  projectId: string;
  moduleId: string;
  /** The new `modules.last_run`, ISO-8601 UTC with microseconds. */
  version: string;
}

/** A presentation object was edited: its detail and items have a new version (`last_updated`). */
export interface PresentationObjectUpdatedEvent<Entity extends string = string>
  extends EventBase<Entity> {
  type: "presentation_object_updated";
  entity: "presentation_object" & Entity;
  projectId: string;
  poId: string;
  /** The new `presentation_objects.last_updated`, ISO-8601 UTC with microseconds. */
  version: string;
}

/** A dataset was imported (`dataset_versions.version` bumped). */
export interface DatasetImportedEvent<Entity extends string = string> extends EventBase<Entity> {
  type: "dataset_imported";
  entity: "dataset" & Entity;
  datasetId: "hmis" | "hfa";
  /** The new import counter. */
  version: string;
}

/** The structure (admin areas, facilities, indicators) was imported (`structure_meta.version`). */
export interface StructureImportedEvent<Entity extends string = string> extends EventBase<Entity> {
  type: "structure_imported";
  entity: "structure" & Entity;
  /** The new structure version. */
  version: string;
}

/**
 * An explicit invalidation (`POST /api/cache/invalidate`, by an administrator or a mirror):
 * no version changed here, but what the entity reaches must be dropped.
 */
export interface InvalidatedEvent<Entity extends string = string> extends EventBase<Entity> {
  type: "invalidated";
  /** One entity of that type, or all of them when absent. */
  id?: string;
  /** The project it belongs to, when it belongs to one. */
  projectId?: string;
  /** Why: `admin`, or `mirror from <instance>`. */
  reason: string;
}

/** Every event the server raises; each is an SSE message named by its `type`. */
export type CacheEvent<Entity extends string = string> =
  | ModuleRunEvent<Entity>
  | PresentationObjectUpdatedEvent<Entity>
  | DatasetImportedEvent<Entity>
  | StructureImportedEvent<Entity>
  | InvalidatedEvent<Entity>;

/** The SSE `starting` message: the version state as of event `lastEventId`. */
export interface StartingMessage {
  instance: string;
  lastEventId: number;
  state: VersionState;
}

/** The SSE `resumed` message: `replayed` events after `from` follow. */
export interface ResumedMessage {
  instance: string;
  from: number;
  replayed: number;
}

/** A list answer: `GET /api/projects`, `GET /api/projects/:projectId/presentation_objects`. */
export interface ListAnswer<T> {
  items: T[];
}

/** A project as listed. */
export interface ProjectSummary {
  projectId: string;
  label: string;
}

/** A presentation object as listed. `lastUpdated` is ISO-8601 UTC (microseconds). */
export interface PoSummary {
  poId: string;
  label: string;
  metricId: string;
  moduleId: string;
  lastUpdated: string;
}

/**
 * `GET /api/projects/:projectId/presentation_objects/:poId`: a presentation object with
 * everything needed to fetch its items. `config` is the stored JSON,
 * `{ fetch: FetchConfig, display?: {...}, ... }`; `lastUpdated` is ISO-8601 UTC (microseconds).
 */
export interface PoDetail extends PoSummary {
  projectId: string;
  resultsObjectId: string;
  config: Record<string, unknown>;
}

/** One aggregated value of a fetch config (`config.fetch.values`); the item key is `prop`. */
export interface FetchValue<Prop extends string = string, Agg extends string = string> {
  prop: Prop;
  func: Agg;
}

/** An inclusive range of YYYYMM periods. */
export interface PeriodRange {
  /** First period, YYYYMM. */
  min: number;
  /** Last period, YYYYMM. */
  max: number;
}

/** One item: group columns (strings; `period_id` a number) and value props (numbers). */
export type PoItem = Record<string, string | number>;

/** `GET /api/projects/:projectId/presentation_objects/:poId/items`. */
export type PoItemsResult =
  | {
    status: "ok";
    items: PoItem[];
    /** The period window of the items (YYYYMM): exact when grouped by period, else the window. */
    dateRange?: PeriodRange;
  }
  | { status: "too_many_items"; limit: number }
  | { status: "no_data_available" };

/** What a module run did. */
export interface ModuleRun {
  /** The new `last_run`, ISO-8601 UTC with microseconds. */
  lastRun: string;
  /** Result rows written (over all the module's results objects). */
  rows: number;
  /** Wall time in milliseconds. */
  ms: number;
}

/** `POST /api/projects/:projectId/modules/:moduleId/run`: the run and its id. */
export interface ModuleRunAnswer extends ModuleRun {
  runId: string;
}

/** A step of a module run. */
export interface ModuleRunProgress {
  /** What the run does now, in plain words ("Computing outliers", "Indexing the results"...). */
  step: string;
  /** Steps done before this one. */
  done: number;
  /** Steps in the whole run (known once the results objects are listed). */
  total: number;
  /** Time since the run started, in ms. */
  elapsedMs: number;
}

/**
 * One line of a module run streamed as `application/x-ndjson`: a step, then the run or
 * the error it ended with.
 */
export type ModuleRunLine =
  | { progress: ModuleRunProgress }
  | { run: ModuleRunAnswer }
  | { error: "database_unavailable" | "run_failed"; message: string };
