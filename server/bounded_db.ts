/**
 * The database as the cold computations see it: a {@linkcode Db} that runs at most
 * `concurrency` statements at once and queues the rest in the app, in arrival order (a
 * bulkhead; the queue is p-limit's).
 *
 * Why: a cached hit needs neither Postgres nor a pool connection (it reads the version
 * table), but it needs a CPU. When a module run or a flush sends ten analysts' cold
 * computations to Postgres at once, ten backends that each want a whole core share the
 * host's cores with the app, and every hit waits behind them in the kernel's run queue (on
 * 2 cores at national size, a hit's p99 went from 1.3 ms to 28 ms, and a bare route doing
 * one Redis GET from 2.4 ms to 20 ms: docs/performance.md, "Hits while cold computations
 * run"). Bounded here, the computations leave cores to the hits and pool connections to
 * the requests that need one (the version fallback while the listener is down, existence
 * checks, writes, sessions). The computations still all run, one after the other: the
 * total work is the same, only its concurrency is lower.
 *
 * Each call takes one slot for its duration; a `transaction` holds one slot from its start
 * to its end, and the statements inside it (on its `tx`) do not queue again.
 *
 * @module
 */
import pLimit, { type LimitFunction } from "p-limit";
import { type Db, DEFAULT_POOL_MAX } from "./db.ts";

/** A {@linkcode Db} whose statements queue for a slot; with its queue's state. */
export interface BoundedDb extends Db {
  /** Statements (or transactions) running now, at most `concurrency`. */
  readonly running: number;
  /** Statements waiting for a slot. */
  readonly queued: number;
  /** The bound, in statements at once. */
  readonly concurrency: number;
}

/**
 * The default bound of one app process's cold computations on a host of `cores` CPU cores:
 * one core less than the host has, shared among the instance's `workers` app processes (at
 * least 1 each), so that a burst of cold computations leaves a core to the cached hits; and
 * at most `poolMax - 2`, so that it leaves pool connections to the requests that need one.
 * The app and its Postgres share one host under `wb`.
 *
 * @param cores The host's CPU cores (`navigator.hardwareConcurrency`).
 * @param workers The instance's app processes (`DENO_JOBS`, 1 by default).
 * @param poolMax Each process's pool size (`connectPostgres`'s `max`).
 */
export function defaultFillConcurrency(
  cores: number,
  workers = 1,
  poolMax = DEFAULT_POOL_MAX,
): number {
  return Math.max(1, Math.min(Math.floor((cores - 1) / workers), poolMax - 2));
}

/**
 * `db` with at most `concurrency` statements running at once (see the module doc).
 * Closing it closes `db`.
 *
 * @throws {RangeError} If `concurrency` is not a positive integer.
 */
export function boundedDb(db: Db, concurrency: number): BoundedDb {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`Fill concurrency must be a positive integer, got ${concurrency}`);
  }
  const limit: LimitFunction = pLimit(concurrency);
  return {
    query: <R>(text: string, params?: unknown[]) => limit(() => db.query<R>(text, params)),
    exec: (sql) => limit(() => db.exec(sql)),
    copyRows: (table, columns, rows) => limit(() => db.copyRows(table, columns, rows)),
    transaction: <T>(fn: (tx: Db) => Promise<T>) => limit(() => db.transaction(fn)),
    close: () => db.close(),
    get running() {
      return limit.activeCount;
    },
    get queued() {
      return limit.pendingCount;
    },
    concurrency,
  };
}
