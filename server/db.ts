/**
 * One database interface ({@linkcode Db}) over two drivers: a real PostgreSQL server through
 * npm:postgres (porsager) and an embedded WASM Postgres through PGlite.
 *
 * Value conventions, identical on both drivers:
 * - `int2`/`int4`/`float4`/`float8` come back as JS numbers; `int8` (`bigint`, e.g. `count(*)`) and
 *   `numeric` (e.g. `avg(int)`) are parsed to JS numbers too (precision beyond 2^53 is lost; no
 *   count here comes near that). Model queries still cast explicitly (`::int`, `::float8`).
 * - `json`/`jsonb` come back parsed. To pass JSON as a parameter, pass `JSON.stringify(value)` and
 *   cast `$n::text::jsonb` (postgres.js would JSON-encode a string sent for a `jsonb` parameter
 *   a second time).
 * - Timestamps that serve as versions are selected as text with the SQL function
 *   `iso_ts(timestamptz)` (created by migration 001), giving
 *   `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, microseconds). Raw `timestamptz` values would come back as
 *   `Date` objects; model code never returns those.
 *
 * Connection failures, terminated connections and timeouts are rethrown as
 * {@linkcode DatabaseUnavailableError} so the server can answer 503 with `Retry-After`.
 *
 * @module
 */

import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type ErrorAnswer, ServerError } from "./errors.ts";
import postgres from "postgres";
import { PGlite } from "@electric-sql/pglite";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

/** A database connection (pool) with the few operations the server and the loader need. */
export interface Db {
  /**
   * Runs one parameterized statement (`$1..$n`) and returns its rows as plain objects.
   *
   * @throws {DatabaseUnavailableError} If the database cannot be reached or the query timed out.
   */
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  /**
   * Runs several statements without parameters (migrations, DDL).
   *
   * @throws {DatabaseUnavailableError} If the database cannot be reached.
   */
  exec(sql: string): Promise<void>;
  /**
   * Bulk loads rows with `COPY <table> (<columns>) FROM STDIN (FORMAT csv)`.
   * `null`/`undefined` become SQL NULL, `Date` an ISO string, objects JSON.
   *
   * @param table Table name (a trusted identifier, quoted here).
   * @param columns Column names in the order of each row's values.
   * @param rows Rows; consumed lazily (a generator of a million rows is fine).
   * @returns The number of rows copied.
   * @throws {DatabaseUnavailableError} If the database cannot be reached.
   */
  copyRows(table: string, columns: string[], rows: Iterable<unknown[]>): Promise<number>;
  /**
   * Runs `fn` in one transaction on one connection; commits when it resolves, rolls back when it
   * throws (and rethrows). Inside `fn` use only `tx`. Nested calls use a savepoint.
   */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  /** Closes the connections (pool) or the embedded database. */
  close(): Promise<void>;
}

/** Options of {@linkcode connectPostgres}. */
export interface ConnectPostgresOptions {
  /** Maximum pool size. @default {DEFAULT_POOL_MAX} */
  max?: number;
  /** Seconds to wait for a TCP connection and startup before giving up. @default {10} */
  connectTimeoutS?: number;
}

/** Connections of a pool when `connectPostgres` is not told otherwise. */
export const DEFAULT_POOL_MAX = 10;

/** Seconds a client is told to wait (`Retry-After`) while the database is unavailable. */
export const DB_RETRY_AFTER_S = 5;

/**
 * The database cannot be used right now (connection refused or terminated, connect or statement
 * timeout, server shutting down or out of connections). The server answers 503 with
 * `Retry-After: retryAfterS`.
 */
export class DatabaseUnavailableError extends ServerError {
  /** Stable error code. */
  readonly code = "DB_UNAVAILABLE" as const;
  /** Answered with 503. */
  readonly status: ContentfulStatusCode = 503;
  /** The answer's `error` field. */
  readonly wireCode = "database_unavailable";
  /** Suggested `Retry-After` in seconds. */
  readonly retryAfterS: number;

  /**
   * @param message What failed, for logs (the cause's message is appended).
   * @param options `cause` is the driver error; `retryAfterS` defaults to {@linkcode DB_RETRY_AFTER_S}.
   */
  constructor(message: string, options: { cause?: unknown; retryAfterS?: number } = {}) {
    super(message, { cause: options.cause });
    this.name = "DatabaseUnavailableError";
    this.retryAfterS = options.retryAfterS ?? DB_RETRY_AFTER_S;
  }

  /** The 503 answer: what failed stays in the logs; the caller is told when to retry. */
  override answer(): ErrorAnswer {
    return {
      status: this.status,
      body: {
        error: this.wireCode,
        message: `The database is unavailable; retry in ${this.retryAfterS} s`,
      },
      headers: { "Retry-After": String(this.retryAfterS) },
    };
  }
}

/** Node/postgres.js error codes that mean "the database is not reachable now". */
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  // SQLSTATE: admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections,
  // query_canceled (statement_timeout), lock_not_available (lock_timeout).
  "57P01",
  "57P02",
  "57P03",
  "53300",
  "57014",
  "55P03",
]);

function isUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) return false; // already mapped
  if (!(error instanceof Error)) return false;
  const code = String((error as { code?: unknown }).code ?? "");
  if (UNAVAILABLE_CODES.has(code) || code.startsWith("08")) return true; // 08xxx: connection_exception
  if (error instanceof Deno.errors.ConnectionRefused) return true;
  if (error instanceof Deno.errors.ConnectionReset) return true;
  if (error instanceof Deno.errors.TimedOut) return true;
  return /PGlite is closed/i.test(error.message);
}

function mapError(error: unknown, what: string): unknown {
  if (!isUnavailable(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new DatabaseUnavailableError(`Database unavailable (${what}): ${message}`, {
    cause: error,
  });
}

async function guarded<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw mapError(error, what);
  }
}

/** Quotes an SQL identifier (`"a""b"`). */
function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function copyStatement(table: string, columns: string[], source: string): string {
  if (columns.length === 0) {
    throw new RangeError(`Cannot copy into '${table}': 'columns' must not be empty`);
  }
  const cols = columns.map(quoteIdent).join(", ");
  return `COPY ${quoteIdent(table)} (${cols}) FROM ${source} WITH (FORMAT csv)`;
}

const CSV_NEEDS_QUOTES = /[",\r\n]|^\s|\s$|^\\\.$/;

/** Encodes one value as a CSV field for `COPY ... (FORMAT csv)`; unquoted empty is NULL. */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  let text: string;
  if (typeof value === "string") text = value;
  else if (typeof value === "number" || typeof value === "bigint") return String(value);
  else if (typeof value === "boolean") return value ? "t" : "f";
  else if (value instanceof Date) return value.toISOString();
  else text = JSON.stringify(value);
  if (text === "" || CSV_NEEDS_QUOTES.test(text)) return `"${text.replaceAll('"', '""')}"`;
  return text;
}

function csvLine(row: unknown[], width: number): string {
  if (row.length !== width) {
    throw new RangeError(`Cannot copy row: expected ${width} values, got ${row.length}`);
  }
  let line = csvField(row[0]);
  for (let i = 1; i < row.length; i++) line += "," + csvField(row[i]);
  return line + "\n";
}

/** Yields CSV text in chunks of about `chunkChars`, counting rows into `counter.rows`. */
function* csvChunks(
  rows: Iterable<unknown[]>,
  width: number,
  chunkChars: number,
  counter: { rows: number },
): Generator<string> {
  let chunk = "";
  for (const row of rows) {
    chunk += csvLine(row, width);
    counter.rows++;
    if (chunk.length >= chunkChars) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk) yield chunk;
}

// ---------------------------------------------------------------------------------------------
// postgres.js

type PgSql = postgres.Sql<Record<string, unknown>>;
type PgTx = postgres.TransactionSql<Record<string, unknown>>;

function postgresDb(sql: PgSql | PgTx, root: PgSql | undefined): Db {
  const db: Db = {
    query<R>(text: string, params: unknown[] = []): Promise<R[]> {
      return guarded("query", async () => {
        // Prepared (named, cached per connection): the per-request version lookups would
        // otherwise be planned again on every call (planning cost 6x their execution).
        const result = await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[], {
          prepare: true,
        });
        return Array.from(result) as R[];
      });
    },
    exec(text: string): Promise<void> {
      return guarded("exec", async () => {
        await sql.unsafe(text);
      });
    },
    copyRows(table, columns, rows): Promise<number> {
      const statement = copyStatement(table, columns, "STDIN");
      return guarded("copy", async () => {
        const counter = { rows: 0 };
        const query = sql.unsafe(statement);
        const writable = await query.writable();
        // postgres.js 3.4 loses an error that arrives after the stream has ended (e.g. a
        // duplicate key in the last chunk): it rejects the already-resolved query and never
        // finishes the stream, so the pipeline would hang. Catch that rejection ourselves.
        const failed = new Promise<never>((_, reject) => {
          (query as unknown as { reject: (error: unknown) => void }).reject = reject;
        });
        failed.catch(() => {});
        await Promise.race([
          pipeline(Readable.from(csvChunks(rows, columns.length, 1 << 16, counter)), writable),
          failed,
        ]);
        return counter.rows;
      });
    },
    transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
      return guarded("transaction", async () => {
        if (root) {
          return await root.begin((tx) => fn(postgresDb(tx, undefined))) as T;
        }
        return await (sql as PgTx).savepoint((tx) => fn(postgresDb(tx, undefined))) as T;
      });
    },
    async close(): Promise<void> {
      if (root) await root.end({ timeout: 5 });
    },
  };
  return db;
}

/**
 * Connects a pool to a PostgreSQL server with npm:postgres. Connections open lazily: an
 * unreachable server surfaces as {@linkcode DatabaseUnavailableError} on the first query.
 * Notices are discarded (never printed to stdout).
 *
 * @param url `postgres://user:pass@host:port/db`; a libpq `host` parameter naming a directory
 *   (`postgres://user:pass@localhost:5432/db?host=/path/to/socket-dir`) connects over the
 *   Unix socket `<dir>/.s.PGSQL.<port>` in it (as `wb` runs native instances).
 * @param options Pool size and connect timeout.
 * @returns A {@linkcode Db}; `close()` ends the pool (waiting up to 5 s for running queries).
 * @example Query a local server
 * ```ts
 * const db = connectPostgres("postgres://postgres@127.0.0.1:5432/postgres");
 * const [{ one }] = await db.query<{ one: number }>("SELECT $1::int AS one", [1]);
 * await db.close();
 * ```
 */
export function connectPostgres(url: string, options: ConnectPostgresOptions = {}): Db {
  const { url: target, socketDir } = socketDirOf(url);
  const sql = postgres(target, {
    ...(socketDir ? { host: socketDir } : {}),
    max: options.max ?? DEFAULT_POOL_MAX,
    connect_timeout: options.connectTimeoutS ?? 10,
    onnotice: () => {},
    // Reconnect at once: the default backoff grows to 20 s, so while Postgres is down (and
    // for seconds after it is back) requests hung instead of answering 503 with Retry-After
    // (found by `deno task chaos`, docs/reliability.md).
    backoff: () => 0.1,
    connection: { application_name: "wb-server" },
    types: {
      // int8 and numeric as JS numbers (see module docs).
      bigintNumber: {
        to: 20,
        from: [20, 1700],
        serialize: (x: unknown) => String(x),
        parse: (x: string) => Number(x),
      },
    },
  }) as unknown as PgSql;
  return postgresDb(sql, sql);
}

/**
 * Splits a libpq-style `host=<directory>` query parameter off a Postgres URL (postgres.js
 * reads the socket directory from its `host` option, not from the URL).
 *
 * @param url A Postgres URL.
 * @returns The URL without that parameter, and the directory when there was one.
 * @example
 * ```ts
 * socketDirOf("postgres://u:p@localhost:5432/wb?host=%2Frun%2Fpg");
 * // { url: "postgres://u:p@localhost:5432/wb", socketDir: "/run/pg" }
 * ```
 */
export function socketDirOf(url: string): { url: string; socketDir?: string } {
  const query = url.indexOf("?");
  if (query < 0) return { url };
  const params = new URLSearchParams(url.slice(query + 1));
  const host = params.get("host");
  if (!host?.startsWith("/")) return { url };
  params.delete("host");
  const rest = params.toString();
  return { url: url.slice(0, query) + (rest ? `?${rest}` : ""), socketDir: host };
}

// ---------------------------------------------------------------------------------------------
// PGlite

type PgliteTx = Pick<PGlite, "query" | "exec">;

/** Characters of CSV per `COPY ... FROM '/dev/blob'` statement (PGlite holds the blob in memory). */
const PGLITE_COPY_CHUNK_CHARS = 16 << 20;

function pgliteDb(conn: PgliteTx, root: PGlite | undefined, depth: number): Db {
  const db: Db = {
    query<R>(text: string, params: unknown[] = []): Promise<R[]> {
      return guarded("query", async () => (await conn.query<R>(text, params)).rows);
    },
    exec(text: string): Promise<void> {
      return guarded("exec", async () => {
        await conn.exec(text);
      });
    },
    copyRows(table, columns, rows): Promise<number> {
      const statement = copyStatement(table, columns, "'/dev/blob'");
      return guarded("copy", async () => {
        const counter = { rows: 0 };
        let parts: string[] = [];
        let size = 0;
        const flush = async () => {
          if (size === 0) return;
          await conn.query(statement, [], { blob: new Blob(parts) });
          parts = [];
          size = 0;
        };
        for (const chunk of csvChunks(rows, columns.length, 1 << 20, counter)) {
          parts.push(chunk);
          size += chunk.length;
          if (size >= PGLITE_COPY_CHUNK_CHARS) await flush();
        }
        await flush();
        return counter.rows;
      });
    },
    transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
      return guarded("transaction", async () => {
        if (root) return await root.transaction((tx) => fn(pgliteDb(tx, undefined, 1)));
        const name = `wb_sp_${depth}`;
        await conn.exec(`SAVEPOINT ${name}`);
        try {
          const value = await fn(pgliteDb(conn, undefined, depth + 1));
          await conn.exec(`RELEASE SAVEPOINT ${name}`);
          return value;
        } catch (error) {
          await conn.exec(`ROLLBACK TO SAVEPOINT ${name}`);
          throw error;
        }
      });
    },
    async close(): Promise<void> {
      if (root && !root.closed) await root.close();
    },
  };
  return db;
}

/**
 * Opens an embedded PostgreSQL (PGlite, WASM) in this process. Starting takes about 2-3 s
 * (initdb on first use of a data directory, about 0.5 s to reopen one). With a `dataDir`, writes
 * reach the disk asynchronously (`relaxedDurability`): a crash can lose the last transactions.
 *
 * @param dataDir Directory to persist to; `undefined` keeps the database in memory.
 * @returns A {@linkcode Db} over one embedded connection (queries run one at a time).
 * @example In-memory database
 * ```ts
 * const db = await openPglite();
 * await db.exec("CREATE TABLE t (a int)");
 * await db.close();
 * ```
 */
export async function openPglite(dataDir?: string): Promise<Db> {
  const pg = await PGlite.create({
    dataDir,
    relaxedDurability: true,
    parsers: { 20: (x: string) => Number(x), 1700: (x: string) => Number(x) },
  });
  return pgliteDb(pg, pg, 0);
}
