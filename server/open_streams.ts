/**
 * The open event streams of this process, by owner: caps (per user, and for the process)
 * and the end of a session's streams when the session ends.
 *
 * - **Caps**: a user (a session's user, a bearer token's role, or an anonymous address
 *   under `OPEN_ACCESS`) may hold `maxPerUser` streams; the process `maxTotal`. Beyond
 *   either, a new stream is refused (429 with `Retry-After`) before any database work.
 * - **Sessions**: a stream opened with a session cookie ends when the session does. A logout
 *   in this process ends them at once ({@linkcode OpenStreams.endSession}); a logout in
 *   another worker, a revoked or expired session is found by a sweep every
 *   `sessionCheckMs` (one indexed query for all open sessions, only while some are open).
 *
 * @module
 */
import { HTTPException } from "hono/http-exception";
import type { Db } from "./db.ts";

/** Who holds a stream. */
export interface StreamOwner {
  /** The user it counts against: `user:<id>`, `token:<role>` or `address:<ip>`. */
  user: string;
  /** The SHA-256 (hex) of the session the stream was opened with, if any. */
  sessionHash?: string;
}

/** One admitted stream. */
export interface StreamTicket {
  readonly owner: StreamOwner;
  /** Releases its place (idempotent): call it on every path that ends the stream. */
  release(): void;
}

/** Options of {@linkcode OpenStreams}. */
export interface OpenStreamsOptions {
  /** Where sessions live (the sweep asks it); absent: no sweep. */
  db?: Db;
  /** Streams one user may hold in this process. @default {DEFAULT_MAX_STREAMS_PER_USER} */
  maxPerUser?: number;
  /** Streams this process may hold. @default {DEFAULT_MAX_STREAMS} */
  maxTotal?: number;
  /** Interval of the session sweep, in ms. @default {500} */
  sessionCheckMs?: number;
  /** Receives refusals and sweep failures (JSON lines). @default {no log} */
  log?: (line: string) => void;
}

/** Default cap of one user's streams per process. */
export const DEFAULT_MAX_STREAMS_PER_USER = 1500;
/** Default cap of a process's streams. */
export const DEFAULT_MAX_STREAMS = 10_000;

interface Entry {
  owner: StreamOwner;
  end: () => void;
}

/** The registry; one per app, shared by the event routes and the logout route. */
export class OpenStreams {
  readonly maxPerUser: number;
  readonly maxTotal: number;
  readonly #db: Db | undefined;
  readonly #sessionCheckMs: number;
  readonly #log: (line: string) => void;
  readonly #byUser = new Map<string, Set<Entry>>();
  readonly #bySession = new Map<string, Set<Entry>>();
  #total = 0;
  #sweepTimer: ReturnType<typeof setInterval> | undefined;
  #sweeping = false;

  constructor(options: OpenStreamsOptions = {}) {
    this.maxPerUser = options.maxPerUser ?? DEFAULT_MAX_STREAMS_PER_USER;
    this.maxTotal = options.maxTotal ?? DEFAULT_MAX_STREAMS;
    for (const [name, value] of [["maxPerUser", this.maxPerUser], ["maxTotal", this.maxTotal]]) {
      if (!Number.isInteger(value) || (value as number) < 1) {
        throw new RangeError(`Cannot create OpenStreams: '${name}' (${value}) must be >= 1`);
      }
    }
    this.#db = options.db;
    this.#sessionCheckMs = options.sessionCheckMs ?? 500;
    this.#log = options.log ?? (() => {});
  }

  /** Streams open in this process. */
  get size(): number {
    return this.#total;
  }

  /** Streams `user` holds. */
  countOf(user: string): number {
    return this.#byUser.get(user)?.size ?? 0;
  }

  /**
   * Admits a stream, or refuses it.
   *
   * @param owner Who opens it.
   * @param end Ends the stream (called when its session ends).
   * @returns A ticket to release when the stream ends.
   * @throws {HTTPException} 429 with `Retry-After` when the user or the process is at its cap.
   */
  admit(owner: StreamOwner, end: () => void): StreamTicket {
    const held = this.countOf(owner.user);
    if (held >= this.maxPerUser || this.#total >= this.maxTotal) {
      const perUser = held >= this.maxPerUser;
      this.#log(JSON.stringify({
        event: "sse_refused",
        reason: perUser ? "per-user cap" : "process cap",
        cap: perUser ? this.maxPerUser : this.maxTotal,
      }));
      throw new HTTPException(429, {
        message: perUser
          ? `Too many event streams: this user already has ${held} open (at most ${this.maxPerUser})`
          : `Too many event streams on this server (at most ${this.maxTotal}); retry later`,
        res: new Response(null, { headers: { "retry-after": "5" } }),
      });
    }
    const entry: Entry = { owner, end };
    addTo(this.#byUser, owner.user, entry);
    if (owner.sessionHash !== undefined) {
      addTo(this.#bySession, owner.sessionHash, entry);
      this.#startSweep();
    }
    this.#total++;
    let released = false;
    return {
      owner,
      release: () => {
        if (released) return;
        released = true;
        this.#total--;
        removeFrom(this.#byUser, owner.user, entry);
        if (owner.sessionHash !== undefined) {
          removeFrom(this.#bySession, owner.sessionHash, entry);
          if (this.#bySession.size === 0) this.#stopSweep();
        }
      },
    };
  }

  /**
   * Ends every stream opened with the session whose SHA-256 is `sessionHash` (at logout).
   *
   * @returns How many streams were ended.
   */
  endSession(sessionHash: string): number {
    const entries = [...this.#bySession.get(sessionHash) ?? []];
    for (const entry of entries) entry.end();
    return entries.length;
  }

  /**
   * Asks the database which sessions of open streams are still live, and ends the streams
   * of the others. A failing query ends nothing (logged).
   */
  async sweep(): Promise<void> {
    if (!this.#db || this.#sweeping || this.#bySession.size === 0) return;
    this.#sweeping = true;
    try {
      const hashes = [...this.#bySession.keys()];
      const live = new Set<string>();
      for (let i = 0; i < hashes.length; i += 1000) {
        const rows = await this.#db.query<{ hash: string }>(
          `SELECT session_hash AS hash FROM sessions
            WHERE session_hash = ANY($1::text[]) AND expires_at > now()`,
          [hashes.slice(i, i + 1000)],
        );
        for (const row of rows) live.add(row.hash);
      }
      for (const hash of hashes) {
        if (!live.has(hash)) {
          const ended = this.endSession(hash);
          if (ended > 0) this.#log(JSON.stringify({ event: "sse_session_ended", streams: ended }));
        }
      }
    } catch (error) {
      this.#log(JSON.stringify({
        event: "sse_session_sweep_failed",
        error: String((error as Error)?.message ?? error),
      }));
    } finally {
      this.#sweeping = false;
    }
  }

  /** Ends every stream and stops the sweep (shutdown). */
  close(): void {
    this.#stopSweep();
    for (const set of this.#byUser.values()) for (const entry of [...set]) entry.end();
  }

  #startSweep(): void {
    if (!this.#db || this.#sweepTimer !== undefined) return;
    this.#sweepTimer = setInterval(() => void this.sweep(), this.#sessionCheckMs);
  }

  #stopSweep(): void {
    clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
  }
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (!set) map.set(key, set = new Set());
  set.add(value);
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}
