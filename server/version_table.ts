/**
 * The version table: the versions the cached routes depend on, held in this process and
 * pushed by Postgres, so a cache hit needs no pool connection and never queues behind cold
 * queries.
 *
 * Triggers on the versioned tables (migration `005_version_notify.sql`) send a NOTIFY on
 * `wb_versions` for every committed change, whoever makes it (this server, another one, the
 * loader, `psql`). One dedicated connection (`application_name` `wb-version-listener`, not
 * from the pool) LISTENs, then loads every row in one repeatable-read snapshot; notifications
 * that arrive meanwhile are applied after it, in commit order, so nothing committed after the
 * LISTEN is missed. Only then is the table **trusted**.
 *
 * | listener                                     | routes get versions from        |
 * | -------------------------------------------- | ------------------------------- |
 * | connecting, loading, lost, closed            | the per-request query (`versions.ts`) |
 * | listening and loaded (trusted)               | this table                      |
 * | trusted, id not in the table                 | the query (a 404 only if it agrees) |
 *
 * When the connection is lost (Postgres restart, `pg_terminate_backend`, network) the table
 * stops being trusted at once, and the listener reconnects every `retryMs`, LISTENs, reloads,
 * and is trusted again. A `TRUNCATE` of a versioned table or an unreadable payload also
 * causes a full reload.
 *
 * An id the trusted table does not know is checked with the query: the table is complete up
 * to the notifications still in flight, and a row another process committed a moment ago
 * may not have arrived yet. So a 404 is always the database's answer, never the table's.
 *
 * @module
 */
import postgres from "postgres";
import { type Db, socketDirOf } from "./db.ts";
import type { DatasetId } from "./model/mod.ts";
import { type PoVersions, queryVersions, type VersionSource } from "./versions.ts";
import { type VersionChange, VersionRows } from "./version_rows.ts";
import { SessionCache } from "./session_cache.ts";

/** The NOTIFY channel of migration `005_version_notify.sql`. */
export const VERSION_CHANNEL = "wb_versions";

/** The NOTIFY channel of migration `006_session_notify.sql` (handed to the session cache). */
export const SESSION_CHANNEL = "wb_sessions";

/** `application_name` of the listener's connection (find it in `pg_stat_activity`). */
export const VERSION_LISTENER_APP = "wb-version-listener";

/**
 * Where the table stands: `connecting` (no LISTEN yet, or reconnecting after a loss),
 * `loading` (listening, snapshot not applied yet), `trusted` (routes read the table),
 * `closed`.
 */
export type VersionTableState = "connecting" | "loading" | "trusted" | "closed";

/** Options of {@linkcode VersionTable}. */
export interface VersionTableOptions {
  /** The pool: the fallback queries and `settle()`'s marker go through it. */
  db: Db;
  /** The same database's URL (`DATABASE_URL`); the listener opens its own connection. */
  url: string;
  /** Wait between reconnect attempts after the listener's connection is lost, in ms. @default {500} */
  retryMs?: number;
  /** Longest `settle()` waits for its marker to come back, in ms. @default {2000} */
  settleTimeoutMs?: number;
  /** Seconds to wait for the listener's TCP connection and startup. @default {10} */
  connectTimeoutS?: number;
  /** Where state changes and errors are logged, one JSON line each. @default {console.error} */
  log?: (line: string) => void;
}

/** Counters since the table was created. */
export interface VersionTableStats {
  /** Version lookups answered by the table. */
  tableReads: number;
  /** Version lookups answered by the query (not trusted, or an id the table lacks). */
  queryReads: number;
  /** Notifications applied. */
  notifications: number;
  /** Full loads completed (the first one included). */
  loads: number;
  /** Times the listener's connection was lost. */
  lost: number;
}

type Sql = postgres.Sql<Record<string, unknown>>;

/**
 * The in-process version table of one database (one per server process). Build it, pass it
 * to the app as its {@linkcode VersionSource}, `start()` it without awaiting (a Postgres that
 * is down never holds up the boot: the routes query until the table is trusted), and
 * `close()` it at shutdown.
 *
 * @example Serve versions from the table
 * ```ts
 * const table = new VersionTable({ db, url: "postgres://postgres@127.0.0.1:5432/wb" });
 * table.start();
 * const app = await createApp({ db, caches, versions: table });
 * // ... at shutdown
 * await table.close();
 * ```
 */
export class VersionTable implements VersionSource {
  readonly #db: Db;
  readonly #query: VersionSource;
  readonly #sql: Sql;
  readonly #retryMs: number;
  readonly #settleTimeoutMs: number;
  readonly #log: (line: string) => void;
  #state: VersionTableState = "connecting";
  #started = false;
  #running: Promise<void> | undefined;
  /** Notifications received while a load runs (applied after it), else undefined. */
  #pending: string[] | undefined;
  /** Wakes the run loop: the connection was lost, a reload is needed, or close(). */
  #wake: (() => void) | undefined;
  #reloadRequested = false;
  /** Bumped whenever the listener's connection closes: a LISTEN or load of an older one is void. */
  #generation = 0;
  /** An attempt failed since the table was last trusted (its error is logged once). */
  #failing = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #settles = new Map<string, () => void>();

  readonly #rows = new VersionRows();
  /** The users of recent sessions, served while the table is trusted (`session_cache.ts`). */
  readonly sessions: SessionCache;

  /** Counters (reads by source, notifications, loads, losses). */
  readonly stats: VersionTableStats = {
    tableReads: 0,
    queryReads: 0,
    notifications: 0,
    loads: 0,
    lost: 0,
  };

  /** @param options The pool, the database URL and the listener's timings. */
  constructor(options: VersionTableOptions) {
    this.#db = options.db;
    this.#query = queryVersions(options.db);
    this.#retryMs = options.retryMs ?? 500;
    this.#settleTimeoutMs = options.settleTimeoutMs ?? 2000;
    this.#log = options.log ?? ((line) => console.error(line));
    this.sessions = new SessionCache(options.db, { live: () => this.#is("trusted") });
    const { url, socketDir } = socketDirOf(options.url);
    // `onnotify` and `onclose` are options postgres.js reads (its own listen() uses them) but
    // does not declare in its types.
    const listenerOptions = {
      ...(socketDir ? { host: socketDir } : {}),
      max: 1,
      max_lifetime: null,
      fetch_types: false,
      connect_timeout: options.connectTimeoutS ?? 10,
      onnotice: () => {},
      onnotify: (channel: string, payload: string) =>
        channel === SESSION_CHANNEL ? this.sessions.apply(payload) : this.#onNotify(payload),
      onclose: () => this.#onClose(),
      connection: { application_name: VERSION_LISTENER_APP },
    };
    this.#sql = postgres(
      url,
      listenerOptions as postgres.Options<Record<string, never>>,
    ) as unknown as Sql;
  }

  /** Where the table stands; routes read it only when `trusted`. */
  get state(): VersionTableState {
    return this.#state;
  }

  /** Whether routes read versions from the table (listening, loaded). */
  get trusted(): boolean {
    return this.#is("trusted");
  }

  /** Whether the state is `state` now (a method: TypeScript would narrow a field across awaits). */
  #is(state: VersionTableState): boolean {
    return this.#state === state;
  }

  /** Starts listening and loading in the background (idempotent). Never throws. */
  start(): void {
    if (this.#started || this.#is("closed")) return;
    this.#started = true;
    this.#running = this.#run();
  }

  /** Stops listening and closes the listener's connection; routes query from now on. */
  async close(): Promise<void> {
    if (this.#is("closed")) return;
    this.#state = "closed";
    clearTimeout(this.#retryTimer);
    this.#wake?.();
    this.#releaseSettles();
    await this.#sql.end({ timeout: 1 }).catch(() => {});
    await this.#running;
  }

  /** Versions of one presentation object (`undefined`: no such object, said by the query). */
  poVersions(projectId: string, poId: string): Promise<PoVersions | undefined> {
    return this.#read(
      () => this.#rows.po(projectId, poId),
      () => this.#query.poVersions(projectId, poId),
    );
  }

  /** Versions of several presentation objects; ids the table lacks are asked of the query. */
  async poVersionsMany(
    projectId: string,
    poIds: readonly string[],
  ): Promise<Map<string, PoVersions>> {
    if (!this.#is("trusted")) {
      this.stats.queryReads++;
      return await this.#query.poVersionsMany(projectId, poIds);
    }
    const found = new Map<string, PoVersions>();
    const unknown: string[] = [];
    for (const poId of poIds) {
      const versions = this.#rows.po(projectId, poId);
      if (versions) found.set(poId, versions);
      else unknown.push(poId);
    }
    this.stats.tableReads++;
    if (unknown.length === 0) return found;
    this.stats.queryReads++;
    for (const [poId, versions] of await this.#query.poVersionsMany(projectId, unknown)) {
      found.set(poId, versions);
    }
    return found;
  }

  /** A metric's module's `last_run` (`undefined`: no such metric, said by the query). */
  metricVersion(
    projectId: string,
    metricId: string,
  ): Promise<{ lastRun: string | null } | undefined> {
    return this.#read(
      () => this.#rows.metric(projectId, metricId),
      () => this.#query.metricVersion(projectId, metricId),
    );
  }

  /** A dataset's import version as text (`"0"` before the first import). */
  datasetVersion(datasetId: DatasetId): Promise<string> {
    return this.#read(
      () => datasetId === "hmis" || datasetId === "hfa" ? this.#rows.dataset(datasetId) : undefined,
      () => this.#query.datasetVersion(datasetId),
    );
  }

  /** The structure's import version as text (`"0"` before the first import). */
  structureVersion(): Promise<string> {
    return this.#read(() => this.#rows.structure, () => this.#query.structureVersion());
  }

  /**
   * A version from the table while it is trusted and holds it (`fromTable` not
   * `undefined`), else from the per-request query; counted in {@linkcode VersionTable.stats}.
   */
  #read<T>(fromTable: () => T | undefined, fromQuery: () => Promise<T>): Promise<T> {
    if (this.#is("trusted")) {
      const version = fromTable();
      if (version !== undefined) {
        this.stats.tableReads++;
        return Promise.resolve(version);
      }
    }
    this.stats.queryReads++;
    return fromQuery();
  }

  /**
   * Sends a marker through the pool and waits until the listener receives it: NOTIFYs
   * arrive in commit order, so every write this process committed before is applied by then.
   * Returns at once when the table is not trusted (the routes query then), and after
   * `settleTimeoutMs` at most. Never throws.
   */
  async settle(): Promise<void> {
    if (!this.#is("trusted")) return;
    const token = crypto.randomUUID();
    const arrived = new Promise<void>((resolve) => this.#settles.set(token, resolve));
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await this.#db.query("SELECT pg_notify($1, $2)", [
        VERSION_CHANNEL,
        JSON.stringify({ sync: token }),
      ]);
      await Promise.race([
        arrived,
        new Promise<void>((resolve) => timer = setTimeout(resolve, this.#settleTimeoutMs)),
      ]);
    } catch {
      // The pool could not send it: the next request will find out the same way.
    } finally {
      clearTimeout(timer);
      this.#settles.delete(token);
    }
  }

  async #run(): Promise<void> {
    while (!this.#is("closed")) {
      try {
        const generation = this.#generation;
        // postgres.js reconnects by itself on the next query, but a new session listens to
        // nothing: every connection is LISTENed on, and loaded, by this loop.
        await this.#sql.unsafe(`LISTEN ${VERSION_CHANNEL}`);
        await this.#sql.unsafe(`LISTEN ${SESSION_CHANNEL}`);
        await this.#load(generation);
        // Trusted: wait for a loss (onclose), a reload request (TRUNCATE) or close().
        while (this.#is("trusted") || this.#reloadRequested) {
          if (this.#reloadRequested) await this.#load(generation);
          else {
            await new Promise<void>((resolve) => this.#wake = resolve);
            this.#wake = undefined;
          }
        }
      } catch (error) {
        // One line per outage, not one per retry while Postgres is down.
        if (!this.#is("closed") && !this.#failing) {
          this.#failing = true;
          this.#log(JSON.stringify({
            event: "version_table_error",
            error: String((error as Error)?.message ?? error),
            retryMs: this.#retryMs,
          }));
        }
      }
      if (this.#is("closed")) return;
      this.#untrust();
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#retryTimer = setTimeout(resolve, this.#retryMs);
      });
      this.#wake = undefined;
    }
  }

  /**
   * Loads every row in one snapshot (on the listener's connection, which is LISTENing
   * already), then applies the notifications received meanwhile, and trusts the table.
   */
  async #load(generation: number): Promise<void> {
    const started = performance.now();
    let applied = 0;
    const lost = () => this.#is("closed") || generation !== this.#generation;
    do {
      // Lost (onclose) or closed since the LISTEN: the caller retries on a new connection.
      if (lost()) throw new Error("the listener's connection was lost");
      this.#state = "loading";
      this.#reloadRequested = false;
      this.#pending = [];
      const rows = await this.#sql.begin(
        "isolation level repeatable read read only",
        (tx) => Promise.all(VersionRows.SNAPSHOT.map((query) => tx.unsafe(query))),
      );
      if (lost()) throw new Error("the listener's connection was lost");
      this.#rows.replace(rows as unknown as Record<string, string | null>[][]);
      // Committed after the LISTEN, received during the snapshot: apply in commit order.
      const pending = this.#pending;
      this.#pending = undefined;
      for (const payload of pending) this.#apply(payload);
      applied += pending.length;
    } while (this.#reloadRequested);
    this.#state = "trusted";
    this.#failing = false;
    this.stats.loads++;
    this.#log(JSON.stringify({
      event: "version_table_trusted",
      ...this.#rows.sizes,
      loadMs: Math.round(performance.now() - started),
      appliedDuringLoad: applied,
    }));
  }

  #onNotify(payload: string): void {
    if (this.#pending) this.#pending.push(payload);
    else this.#apply(payload);
  }

  #onClose(): void {
    this.#generation++;
    if (this.#is("closed")) return;
    if (this.#is("trusted") || this.#is("loading")) {
      this.stats.lost++;
      this.#log(JSON.stringify({ event: "version_table_lost", fallback: "per-request query" }));
    }
    this.#untrust();
    this.#wake?.();
  }

  #untrust(): void {
    if (this.#is("closed")) return;
    this.sessions.clear(); // notifications may be missed until the listener is back
    this.#state = "connecting";
    this.#pending = undefined;
    this.#reloadRequested = false;
    this.#releaseSettles();
  }

  #releaseSettles(): void {
    for (const resolve of this.#settles.values()) resolve();
    this.#settles.clear();
  }

  #requestReload(why: string): void {
    if (!this.#is("trusted") && !this.#is("loading")) return; // a full load follows
    this.#log(JSON.stringify({ event: "version_table_reload", why }));
    this.#reloadRequested = true;
    this.#state = "loading"; // routes query until the reload is applied
    this.#wake?.();
  }

  /** Applies one notification (a change, a TRUNCATE or a settle marker). */
  #apply(payload: string): void {
    let change: VersionChange;
    try {
      change = JSON.parse(payload);
    } catch {
      return this.#requestReload("unreadable payload");
    }
    if (typeof change.sync === "string") {
      this.#settles.get(change.sync)?.();
      return;
    }
    this.stats.notifications++;
    const reload = this.#rows.apply(change);
    if (reload) this.#requestReload(reload);
  }
}
