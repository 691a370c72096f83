/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * The server's event stream (`GET /api/events`, the session cookie authenticates it) as a
 * source of versions: `starting` sets the whole state, each typed event moves it forward,
 * `invalidated` empties the browser caches it reaches. Views subscribe and rebuild their
 * keys, so a version flip is a cache miss and a fresh request, with no reload. Until the
 * first `starting` (status `connecting`) views wait; when the stream fails they read from
 * the network, uncached.
 *
 * @module
 */
import {
  applyEvent,
  cachesReachedBy,
  type ClientCache,
  EVENT_TYPES,
  type ServerEvent,
  type VersionState,
} from "./versions.ts";
import type { StartingMessage } from "../../server/wire.ts";

/** The stream's state. */
export type FeedStatus = "connecting" | "live" | "reconnecting" | "closed";

/** Options of {@linkcode VersionFeed}. */
export interface VersionFeedOptions {
  /** The stream. @default {"/api/events"} */
  url?: string;
  /** Empties the caches an `invalidated` event reaches (before views are told). */
  onInvalidated?: (caches: ClientCache[], event: ServerEvent) => Promise<void> | void;
}

/** The versions the server announces, for the views of one page. */
export class VersionFeed {
  state: VersionState | undefined;
  status: FeedStatus = "connecting";
  /** The last event, for the status line. */
  lastEvent: ServerEvent | undefined;
  /** Bumped by every `invalidated` event: views refetch what it reached. */
  invalidations = 0;
  readonly #source: EventSource;
  readonly #listeners = new Set<() => void>();

  constructor(options: VersionFeedOptions = {}) {
    this.#source = new EventSource(options.url ?? "/api/events");
    this.#source.addEventListener("starting", (message) => {
      this.state = (JSON.parse((message as MessageEvent).data) as StartingMessage).state;
      this.status = "live";
      this.#notify();
    });
    for (const type of EVENT_TYPES) {
      this.#source.addEventListener(type, async (message) => {
        const event = JSON.parse((message as MessageEvent).data) as ServerEvent;
        this.lastEvent = event;
        if (this.state) this.state = applyEvent(this.state, event);
        if (event.type === "invalidated") {
          await options.onInvalidated?.(cachesReachedBy(event.affected), event);
          this.invalidations++;
        }
        this.#notify();
      });
    }
    this.#source.addEventListener("error", () => {
      // Views waiting for a first state go to the network instead (uncached).
      this.status = this.#source.readyState === EventSource.CLOSED ? "closed" : "reconnecting";
      this.#notify();
    });
  }

  /** Calls `listener` after every change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Closes the stream. */
  close(): void {
    this.#source.close();
    this.status = "closed";
    this.#notify();
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }
}
