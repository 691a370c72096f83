/**
 * Server-Sent Events: `GET /api/events` (the instance) and
 * `GET /api/projects/:projectId/events` (one project: its events and the instance-wide
 * ones, datasets and structure).
 *
 * Subscribe before build: the stream subscribes first, then reads the full current version
 * state, folds in whatever arrived during the read, sends it as the first message
 * (`event: starting`, `id: <last event number>`), then sends what arrived during the read,
 * then forwards. Nothing raised after the subscription is lost; a write that committed
 * during the read is in `starting` either way.
 *
 * A reconnecting browser sends `Last-Event-ID` (or `?lastEventId=`): when the ring buffer
 * still holds everything after it, those events are replayed (`event: resumed` first);
 * otherwise it gets a fresh `starting`.
 *
 * Authenticated (viewer or admin: a session cookie, a bearer header or `?access_token=`, which
 * only these two routes read), heartbeats (`: heartbeat` comments), and bounded: a client
 * that falls `maxQueuedEvents` behind is disconnected (it reconnects and resumes); a user
 * and the process hold at most so many streams (429 beyond, before any database work); a
 * stream opened with a session ends when the session does (`open_streams.ts`).
 *
 * @module
 */
import type { Context } from "hono";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import { type Caller, requireRole } from "../auth.ts";
import {
  applyEventToState,
  type CacheEvent,
  type ServerEvents,
  type VersionState,
} from "../events/mod.ts";
import { idParam } from "../http.ts";
import { NotFoundError } from "../model/mod.ts";
import type { OpenStreams, StreamOwner } from "../open_streams.ts";
import type { ResumedMessage, StartingMessage } from "../wire.ts";

/**
 * The paths of the two event streams, the only ones that read `?access_token=`
 * (`EventSource` cannot send headers).
 */
export const EVENT_STREAM_PATH: RegExp = /^\/api\/(?:projects\/[A-Za-z0-9_-]{1,64}\/)?events$/;

/** What the event routes need. */
export interface EventRoutesDeps {
  events: ServerEvents;
  /** Interval of heartbeat comments, in ms. @default {15_000} */
  heartbeatMs?: number;
  /** Events queued for one client before it is disconnected. @default {1000} */
  maxQueuedEvents?: number;
  /** The SSE `retry` sent to browsers, in ms. @default {2000} */
  retryMs?: number;
  /** The registry of open streams (caps, session ends). */
  streams: OpenStreams;
  /** The client's address (the user of an anonymous stream under `OPEN_ACCESS`). */
  addressOf: (c: Context) => string | undefined;
}

/** How long a stream whose session ended may take to say so before it is cut, in ms. */
const SESSION_END_GRACE_MS = 300;

/** Whom a caller's streams count against. */
function ownerOf(caller: Caller, address: string | undefined): StreamOwner {
  if (caller.via === "session") {
    return { user: `user:${caller.user!.userId}`, sessionHash: caller.sessionHash };
  }
  if (caller.via === "bearer") return { user: `token:${caller.role}` };
  return { user: `address:${address ?? "unknown"}` };
}

/** What a stream sends first. */
type Opening =
  | { kind: "starting"; seq: number; state: VersionState }
  | { kind: "resumed"; from: number; events: CacheEvent[] };

/** One open stream's queue. */
class Connection {
  readonly queue: CacheEvent[] = [];
  heartbeat = false;
  ended = false;
  overflowed = false;
  /** Set when the stream's session ended (logout, revoked, expired). */
  sessionEnded = false;
  /** Cuts the stream at once (set once it is streaming). */
  abort: (() => void) | undefined;
  /** The pending cut after a session end. */
  cutTimer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | undefined;

  constructor(readonly maxQueued: number) {}

  push(event: CacheEvent): void {
    if (this.ended) return;
    this.queue.push(event);
    if (this.queue.length > this.maxQueued) {
      this.overflowed = true;
      this.end();
    }
    this.#notify();
  }

  beat(): void {
    this.heartbeat = true;
    this.#notify();
  }

  end(): void {
    this.ended = true;
    this.#notify();
  }

  /** Resolves when there is something to do. */
  wait(): Promise<void> {
    if (this.ended || this.heartbeat || this.queue.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.#wake = resolve);
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** Serialized once per event, however many streams send it. */
const serialized = new WeakMap<CacheEvent, string>();
const dataOf = (event: CacheEvent) => {
  let text = serialized.get(event);
  if (text === undefined) serialized.set(event, text = JSON.stringify(event));
  return text;
};

/** Routes under `/api`: `/events`, `/projects/:projectId/events`. */
export function eventRoutes(deps: EventRoutesDeps): Hono {
  const { events, streams } = deps;
  const heartbeatMs = deps.heartbeatMs ?? 15_000;
  const maxQueued = deps.maxQueuedEvents ?? 1000;
  const retryMs = deps.retryMs ?? 2000;
  const open = new Set<Connection>();
  let heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  const track = (connection: Connection) => {
    open.add(connection);
    heartbeatTimer ??= setInterval(() => {
      for (const each of open) each.beat();
    }, heartbeatMs);
  };
  const untrack = (connection: Connection) => {
    open.delete(connection);
    if (open.size === 0) {
      clearInterval(heartbeatTimer);
      heartbeatTimer = undefined;
    }
  };

  const stream = async (c: Context, projectId: string | undefined) => {
    const caller = c.get("caller");
    if (events.closed) {
      c.header("Retry-After", "2");
      throw new HTTPException(503, { message: "The server is shutting down" });
    }
    const relevant = (event: CacheEvent) =>
      projectId === undefined || !("projectId" in event) || event.projectId === undefined ||
      event.projectId === projectId;
    const connection = new Connection(maxQueued);
    // 0. A place under the caps (429 otherwise), before any work.
    const ticket = streams.admit(ownerOf(caller, deps.addressOf(c)), () => {
      connection.sessionEnded = true;
      connection.end();
      // A client that does not read could hold a write open: cut the stream after a moment.
      connection.cutTimer ??= setTimeout(() => connection.abort?.(), SESSION_END_GRACE_MS);
    });
    // 1. Subscribe, before anything else can happen.
    const unsubscribe = events.subscribe({
      event: (event) => relevant(event) && connection.push(event),
      close: () => connection.end(),
    });
    let opening: Opening;
    try {
      const lastEventId = parseEventId(c.req.header("last-event-id") ?? c.req.query("lastEventId"));
      const replay = lastEventId === undefined ? undefined : events.replaySince(lastEventId);
      if (replay) {
        opening = { kind: "resumed", from: lastEventId!, events: replay.filter(relevant) };
      } else {
        // 2. Build the full state (what arrives meanwhile queues up).
        const seq = events.lastSeq;
        const state = await events.versionState(projectId);
        if (projectId !== undefined && !Object.hasOwn(state.projects, projectId)) {
          throw new NotFoundError("project", projectId);
        }
        // A write that committed after the read but whose event is here is folded in.
        for (const event of connection.queue) applyEventToState(state, event);
        opening = { kind: "starting", seq, state };
      }
    } catch (error) {
      unsubscribe();
      ticket.release();
      throw error;
    }
    if (connection.sessionEnded) { // it ended while the opening was read
      clearTimeout(connection.cutTimer);
      unsubscribe();
      ticket.release();
      throw new HTTPException(401, { message: "The session ended" });
    }
    track(connection);
    return streamSSE(c, async (sse) => {
      sse.onAbort(() => connection.end());
      connection.abort = () => sse.abort();
      try {
        await send(sse, opening, connection);
      } finally {
        clearTimeout(connection.cutTimer);
        unsubscribe();
        untrack(connection);
        ticket.release();
      }
    });
  };

  const send = async (sse: SSEStreamingApi, opening: Opening, connection: Connection) => {
    // 3. The first message.
    if (opening.kind === "starting") {
      await sse.writeSSE({
        event: "starting",
        id: String(opening.seq),
        retry: retryMs,
        data: JSON.stringify(
          {
            instance: events.instance,
            lastEventId: opening.seq,
            state: opening.state,
          } satisfies StartingMessage,
        ),
      });
    } else {
      await sse.writeSSE({
        event: "resumed",
        retry: retryMs,
        data: JSON.stringify(
          {
            instance: events.instance,
            from: opening.from,
            replayed: opening.events.length,
          } satisfies ResumedMessage,
        ),
      });
      for (const event of opening.events) {
        await sse.writeSSE({ event: event.type, id: String(event.seq), data: dataOf(event) });
      }
    }
    // 4. Drain what arrived meanwhile, then forward.
    while (!connection.ended && !sse.aborted) {
      await connection.wait();
      while (connection.queue.length > 0 && !connection.ended) {
        const event = connection.queue.shift()!;
        await sse.writeSSE({ event: event.type, id: String(event.seq), data: dataOf(event) });
      }
      if (connection.heartbeat && !connection.ended) {
        connection.heartbeat = false;
        await sse.write(`: heartbeat ${Date.now()}\n\n`);
      }
    }
    if (connection.sessionEnded && !sse.aborted) {
      // Tell the browser why, so it does not reconnect with a dead session.
      await sse.writeSSE({
        event: "session_ended",
        data: JSON.stringify({ reason: "the session ended (logout, revoked or expired)" }),
      }).catch(() => {});
    }
    if (connection.overflowed) {
      // Too far behind: drop what is queued and let the browser reconnect and resume.
      connection.queue.length = 0;
      sse.abort();
    }
  };

  const app = new Hono();
  // EventSource cannot send headers: the streams also take `?access_token=`.
  const viewer = requireRole("viewer", { allowQueryToken: true });
  app.get("/events", viewer, (c) => stream(c, undefined));
  app.get("/projects/:projectId/events", viewer, (c) => stream(c, idParam(c, "projectId")));
  return app;
}

function parseEventId(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,15}$/.test(text.trim())) return undefined;
  return Number(text.trim());
}
