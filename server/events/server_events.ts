/**
 * `ServerEvents`: the event path of one server process.
 *
 * ```
 * raise(input) ──▶ graph.reach(entity) = affected ──▶ EventBus.publish ──┬──▶ apply() here (first)
 *      │                                              (Redis pub/sub)    └──▶ apply() in every
 *      ├──▶ cache event log                                                    other process
 *      └──▶ MirrorSender.send (background; local events only)
 *
 * apply(event) ──▶ clear callbacks of every affected entity (what has no version)
 *              ──▶ ring buffer (Last-Event-ID replay) ──▶ subscribers (SSE streams)
 * ```
 *
 * @module
 */
import { EventBus } from "../../lib/mod.ts";
import type { Db } from "../db.ts";
import { SERVER_ENTITIES, type ServerEntity } from "./entities.ts";
import type { CacheEventLog } from "./event_log.ts";
import type { EntityGraph } from "./graph.ts";
import type { MirrorSender } from "./mirror.ts";
import { readVersionState } from "./state.ts";
import type { CacheEvent, EventInput, UnnumberedEvent, VersionState } from "./types.ts";
import { RedisStore } from "../../lib/mod.ts";

/** A subscriber of {@linkcode ServerEvents}: an SSE stream. */
export interface EventSubscriber {
  /** Called for every event applied in this process, in arrival order. Must not throw. */
  event(event: CacheEvent): void;
  /** Called once when the process shuts its events down. */
  close(): void;
}

/**
 * A callback that clears what has no version, for one entity type. It may resolve the
 * cache's clear result (`{ status: "cleared" | "invalidated" | "pending" }`): a `pending`
 * one (Redis unreachable, retried by the cache) is logged.
 */
export type ClearCallback = (event: CacheEvent) => unknown;

/** Options of {@linkcode ServerEvents}. */
export interface ServerEventsOptions {
  db: Db;
  /** This instance's id (the `origin` of local events). */
  instance: string;
  /**
   * The bus between the instance's processes; owned (closed) by this object.
   * @default {a bus that stays in this process}
   */
  bus?: EventBus<UnnumberedEvent>;
  /** The cache event log. @default {no log} */
  log?: CacheEventLog;
  /** Mirrors of local invalidations; owned (closed) by this object. */
  mirrors?: MirrorSender;
  /** The entity graph. @default {SERVER_ENTITIES} */
  graph?: EntityGraph<ServerEntity>;
  /** Events kept for `Last-Event-ID` replay. @default {1000} */
  ringSize?: number;
  /** Reads the version state for `starting`. @default {readVersionState} */
  readState?: (db: Db, projectId?: string) => Promise<VersionState>;
}

/** Options of {@linkcode ServerEvents.raise}. */
export interface RaiseOptions {
  /** Why, for the log. */
  reason?: string;
  /** Send it to the mirrors. @default {true} */
  mirror?: boolean;
}

/** Options of {@linkcode ServerEvents.invalidate}. */
export interface InvalidateOptions extends RaiseOptions {
  /** The project the entity belongs to. */
  projectId?: string;
  /** The invalidation's id (a mirrored one keeps the origin's). @default {a random UUID} */
  eventId?: string;
  /** `mirror:<instance>` for a mirrored invalidation. @default {this instance} */
  origin?: string;
}

const NO_LOG: CacheEventLog = { info() {}, warn() {} };

/**
 * Raises typed events, walks the entity graph, fans events out to every process of the
 * instance and to this process's SSE streams, and mirrors local ones.
 */
export class ServerEvents {
  readonly db: Db;
  readonly instance: string;
  readonly graph: EntityGraph<ServerEntity>;
  readonly log: CacheEventLog;
  readonly #bus: EventBus<UnnumberedEvent>;
  readonly #mirrors: MirrorSender | undefined;
  readonly #ringSize: number;
  readonly #readState: (db: Db, projectId?: string) => Promise<VersionState>;
  readonly #clears = new Map<ServerEntity, Set<ClearCallback>>();
  readonly #subscribers = new Set<EventSubscriber>();
  readonly #ring: CacheEvent[] = [];
  readonly #unsubscribeBus: () => void;
  /** Replay is exact for ids at or above this (undefined: nothing seen yet). */
  #floor: number | undefined;
  #lastSeq = 0;
  #closed = false;

  constructor(options: ServerEventsOptions) {
    this.db = options.db;
    this.instance = options.instance;
    this.graph = options.graph ?? SERVER_ENTITIES;
    this.log = options.log ?? NO_LOG;
    this.#bus = options.bus ?? new EventBus("wb:events", { store: RedisStore.disabled() });
    this.#mirrors = options.mirrors;
    this.#ringSize = options.ringSize ?? 1000;
    this.#readState = options.readState ?? readVersionState;
    this.#unsubscribeBus = this.#bus.subscribe(({ seq, message }) =>
      this.#apply({ ...message, seq } as CacheEvent)
    );
  }

  /** The highest event number applied in this process (0: none yet). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Open SSE streams (subscribers) of this process. */
  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /** Whether {@linkcode close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Registers what to clear when an event reaches `entity` (for caches without a version,
   * such as in-memory memos). Runs in every process, for local and remote events.
   *
   * @returns A function that removes the callback.
   * @throws {TypeError} If `entity` is not an entity of the graph.
   */
  onClear(entity: string, callback: ClearCallback): () => void {
    const name = this.#resolve(entity);
    let set = this.#clears.get(name);
    if (!set) this.#clears.set(name, set = new Set());
    set.add(callback);
    return () => set.delete(callback);
  }

  /**
   * Raises one event: walks the graph from its entity, numbers it, applies it here and in
   * every process of the instance, logs it, and (unless `mirror: false`) mirrors it.
   *
   * @returns The event as delivered.
   */
  async raise(input: EventInput, options: RaiseOptions = {}): Promise<CacheEvent> {
    const entity: ServerEntity = "entity" in input ? input.entity : ENTITY_OF[input.type];
    const { eventId, origin, ...fields } = input as EventInput & {
      eventId?: string;
      origin?: string;
    };
    const message = {
      ...fields,
      entity,
      eventId: eventId ?? crypto.randomUUID(),
      affected: this.graph.reach(entity),
      origin: origin ?? this.instance,
      at: Date.now(),
    } as UnnumberedEvent;
    const { seq, published } = await this.#bus.publish(message);
    const event = { ...message, seq } as CacheEvent;
    const mirrored = options.mirror !== false && this.#mirrors !== undefined &&
      this.#mirrors.mirrors.length > 0;
    this.log.info({
      event: "invalidate",
      type: event.type,
      entity: event.entity,
      affected: event.affected,
      cleared: event.affected.filter((name) => this.#clears.get(name)?.size),
      seq,
      eventId: event.eventId,
      origin: event.origin,
      fanOut: published ? "redis" : "this process only",
      mirrors: mirrored ? this.#mirrors!.mirrors : [],
      reason: options.reason ?? describe(event),
      ...detail(event),
    });
    if (mirrored) this.#mirrors!.send(event);
    return event;
  }

  /**
   * Invalidates an entity explicitly (no version changed): what it reaches is cleared and
   * browsers are told, here and in every process of the instance.
   *
   * @param entity An entity type, singular or plural (`module`, `modules`).
   * @param id One entity of that type; all when absent.
   * @throws {TypeError} If `entity` is not an entity of the graph.
   */
  invalidate(entity: string, id?: string, options: InvalidateOptions = {}): Promise<CacheEvent> {
    return this.raise({
      type: "invalidated",
      entity: this.#resolve(entity),
      ...(id === undefined ? {} : { id }),
      ...(options.projectId === undefined ? {} : { projectId: options.projectId }),
      reason: options.reason ?? "admin",
      eventId: options.eventId,
      origin: options.origin,
    }, options);
  }

  /**
   * Adds an SSE stream. Subscribe before reading the state, so nothing raised meanwhile is
   * lost.
   *
   * @returns A function that removes it.
   */
  subscribe(subscriber: EventSubscriber): () => void {
    if (this.#closed) {
      subscriber.close();
      return () => {};
    }
    this.#subscribers.add(subscriber);
    return () => this.#subscribers.delete(subscriber);
  }

  /**
   * The events after `lastSeq` still in the ring buffer.
   *
   * @returns The events (possibly none), or `undefined` when the ring cannot tell (the id
   *   is older than what it keeps, newer than anything seen, or nothing was seen yet): the
   *   caller sends a fresh `starting` then.
   */
  replaySince(lastSeq: number): CacheEvent[] | undefined {
    if (this.#floor === undefined || lastSeq < this.#floor || lastSeq > this.#lastSeq) {
      return undefined;
    }
    return this.#ring.filter((event) => event.seq > lastSeq);
  }

  /** The full current version state (of one project when given). */
  versionState(projectId?: string): Promise<VersionState> {
    return this.#readState(this.db, projectId);
  }

  /**
   * Ends every SSE stream, stops the bus, and gives pending mirror deliveries up to
   * `drainMs` before cancelling them.
   */
  async close(options: { drainMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const subscriber of this.#subscribers) subscriber.close();
    this.#subscribers.clear();
    this.#unsubscribeBus();
    await this.#bus.close();
    if (this.#mirrors) {
      if (options.drainMs) await this.#mirrors.drain(options.drainMs);
      await this.#mirrors.close();
    }
  }

  #resolve(entity: string): ServerEntity {
    const name = this.graph.resolve(entity);
    if (!name) {
      throw new TypeError(
        `Unknown entity '${entity}' (known: ${this.graph.names.join(", ")})`,
      );
    }
    return name;
  }

  #apply(event: CacheEvent): void {
    for (const entity of event.affected) {
      for (const clear of this.#clears.get(entity) ?? []) {
        try {
          Promise.resolve(clear(event)).then(
            (result) => this.#clearDone(entity, event, result),
            (error) => this.#clearFailed(entity, event, error),
          );
        } catch (error) {
          this.#clearFailed(entity, event, error);
        }
      }
    }
    if (this.#floor === undefined) this.#floor = event.seq - 1;
    if (event.seq > this.#lastSeq) this.#lastSeq = event.seq;
    this.#ring.push(event);
    if (this.#ring.length > this.#ringSize) this.#floor = this.#ring.shift()!.seq;
    for (const subscriber of this.#subscribers) subscriber.event(event);
  }

  #clearDone(entity: string, event: CacheEvent, result: unknown): void {
    if ((result as { status?: string } | undefined)?.status !== "pending") return;
    this.log.warn({
      event: "clear_pending",
      entity,
      eventId: event.eventId,
      reason: "Redis was unreachable: the cache retries the clear, and this process does not " +
        "serve the cleared values meanwhile",
    });
  }

  #clearFailed(entity: string, event: CacheEvent, error: unknown): void {
    this.log.warn({
      event: "clear_failed",
      entity,
      eventId: event.eventId,
      error: String((error as Error)?.message ?? error),
      reason: "a clear callback threw; that cache may serve stale values until it expires",
    });
  }
}

const ENTITY_OF = {
  module_run: "module",
  presentation_object_updated: "presentation_object",
  dataset_imported: "dataset",
  structure_imported: "structure",
} as const;

function describe(event: CacheEvent): string {
  switch (event.type) {
    case "module_run":
      return `module ${event.projectId}/${event.moduleId} ran`;
    case "presentation_object_updated":
      return `presentation object ${event.projectId}/${event.poId} was edited`;
    case "dataset_imported":
      return `dataset ${event.datasetId} was imported`;
    case "structure_imported":
      return "the structure was imported";
    case "invalidated":
      return event.reason;
  }
}

function detail(event: CacheEvent): Record<string, unknown> {
  switch (event.type) {
    case "module_run":
      return { projectId: event.projectId, id: event.moduleId, version: event.version };
    case "presentation_object_updated":
      return { projectId: event.projectId, id: event.poId, version: event.version };
    case "dataset_imported":
      return { id: event.datasetId, version: event.version };
    case "structure_imported":
      return { version: event.version };
    case "invalidated":
      return { projectId: event.projectId, id: event.id };
  }
}
