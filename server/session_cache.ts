/**
 * The session cache: the users of recently seen sessions, held in the process so that a
 * logged-in user's cached hit needs no pool connection (issue 16: a hit never waits behind
 * cold queries), kept exact by Postgres.
 *
 * Every change that can end or alter a session (a logout in any process, `wb user revoke` or
 * `remove`, an admin flag change, `psql`) sends a NOTIFY on `wb_sessions` (migration
 * `006_session_notify.sql`), which the version table's listener hands to
 * {@linkcode SessionCache.apply}. So entries are served only while that listener is
 * connected and loaded (`trusted`); otherwise every request looks its session up, as before.
 * Losing the listener empties the cache (notifications may have been missed meanwhile).
 *
 * A lookup that started before an invalidation must not store what it read: every
 * invalidation bumps an epoch, and a lookup stores its result only if the epoch did not
 * move while it ran.
 *
 * @module
 */
import { LRUCache } from "lru-cache";
import type { Db } from "./db.ts";
import { hashToken, lookupSession, type User } from "./users.ts";

/** Where the authentication gets a session's user. */
export interface SessionSource {
  /**
   * The user of a live session, or `undefined` (unknown, expired or ended).
   *
   * @throws {DatabaseUnavailableError} If it must be looked up and the database is down.
   */
  sessionUser(sessionToken: string): Promise<User | undefined>;
  /** Forgets a session this process just ended (before the database's notification comes). */
  forget?(sessionHash: string): void;
}

/** A {@linkcode SessionSource} that asks the database every time. */
export function querySessions(db: Db): SessionSource {
  return { sessionUser: async (token) => (await lookupSession(db, token))?.user };
}

/** Options of {@linkcode SessionCache}. */
export interface SessionCacheOptions {
  /** Sessions held at most (least recently used dropped). @default {10_000} */
  maxEntries?: number;
  /** Whether entries may be served now (the listener is trusted). */
  live(): boolean;
}

interface Entry {
  user: User;
  /** When the session expires, epoch ms. */
  expiresAtMs: number;
}

/** A session change as `006_session_notify.sql` sends it. */
interface SessionChange {
  t?: string;
  op?: string;
  session_hash?: string;
  user_id?: number | string;
}

/** Sessions' users held in memory, dropped by the database's notifications. */
export class SessionCache implements SessionSource {
  readonly #db: Db;
  readonly #live: () => boolean;
  readonly #entries: LRUCache<string, Entry>;
  #epoch = 0;
  /** Lookups answered from memory, and from the database. */
  readonly stats = { hits: 0, lookups: 0 };

  /** A cache over `db`'s sessions, served while `options.live()` says so. */
  constructor(db: Db, options: SessionCacheOptions) {
    this.#db = db;
    this.#live = options.live;
    this.#entries = new LRUCache({ max: options.maxEntries ?? 10_000 });
  }

  /** Sessions held now. */
  get size(): number {
    return this.#entries.size;
  }

  async sessionUser(sessionToken: string): Promise<User | undefined> {
    const hash = hashToken(sessionToken);
    if (this.#live()) {
      const entry = this.#entries.get(hash);
      if (entry && entry.expiresAtMs > Date.now()) {
        this.stats.hits++;
        return entry.user;
      }
    }
    this.stats.lookups++;
    const epoch = this.#epoch;
    const found = await lookupSession(this.#db, sessionToken);
    // Stored only when nothing was invalidated meanwhile, and only while notifications flow.
    if (found && epoch === this.#epoch && this.#live()) {
      this.#entries.set(hash, { user: found.user, expiresAtMs: found.expiresAtMs });
    }
    return found?.user;
  }

  /** Applies one `wb_sessions` payload; an unreadable one empties the cache. */
  apply(payload: string): void {
    let change: SessionChange;
    try {
      change = JSON.parse(payload);
    } catch {
      return this.clear();
    }
    this.#epoch++;
    if (change.op === "TRUNCATE") return this.clear();
    if (change.t === "sessions" && typeof change.session_hash === "string") {
      this.#entries.delete(change.session_hash);
      return;
    }
    if (change.t === "users" && change.user_id !== undefined) {
      const userId = Number(change.user_id);
      for (const [hash, entry] of this.#entries.entries()) {
        if (Number(entry.user.userId) === userId) this.#entries.delete(hash);
      }
      return;
    }
    this.clear();
  }

  forget(sessionHash: string): void {
    this.#epoch++;
    this.#entries.delete(sessionHash);
  }

  /** Drops every entry (the listener was lost or reloaded, or a change was unreadable). */
  clear(): void {
    this.#epoch++;
    this.#entries.clear();
  }
}
