/**
 * Whether Postgres answers, as `/healthz` reports it: a `SELECT 1` every few seconds in the
 * background, so that answering `/healthz` (public, unauthenticated, possibly polled hard)
 * never makes a query itself. The entry file builds one, checks once before serving, and
 * closes it on shutdown.
 *
 * @module
 */
import type { Db } from "./db.ts";

/** What `/healthz` says of Postgres. */
export type PostgresState = "up" | "down" | "unknown";

/** Options of {@linkcode PostgresHealth}. */
export interface PostgresHealthOptions {
  /** Time between checks, in ms. @default {2000} */
  intervalMs?: number;
  /** A check without an answer after this long counts as down, in ms. @default {1000} */
  timeoutMs?: number;
}

/**
 * Checks Postgres in the background and remembers the answer.
 *
 * @example
 * ```ts
 * const health = new PostgresHealth(db);
 * await health.check(); // "up"
 * health.start();
 * health.state(); // "up"
 * health.close();
 * ```
 */
export class PostgresHealth {
  #db: Db;
  #intervalMs: number;
  #timeoutMs: number;
  #state: PostgresState = "unknown";
  #timer: ReturnType<typeof setInterval> | undefined;
  #running: Promise<PostgresState> | undefined;

  /**
   * @param db The database to check.
   * @param options Interval and timeout.
   */
  constructor(db: Db, options: PostgresHealthOptions = {}) {
    this.#db = db;
    this.#intervalMs = options.intervalMs ?? 2000;
    this.#timeoutMs = options.timeoutMs ?? 1000;
  }

  /** The last answer: `unknown` before the first check. */
  state(): PostgresState {
    return this.#state;
  }

  /**
   * Checks now (a check under way is shared).
   *
   * @returns The new state.
   */
  check(): Promise<PostgresState> {
    this.#running ??= (async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        this.#state = await Promise.race([
          this.#db.query("SELECT 1").then(() => "up" as const, () => "down" as const),
          new Promise<"down">((resolve) =>
            timer = setTimeout(() => resolve("down"), this.#timeoutMs)
          ),
        ]);
        return this.#state;
      } finally {
        clearTimeout(timer);
        this.#running = undefined;
      }
    })();
    return this.#running;
  }

  /** Checks every `intervalMs` until {@linkcode close}. The timer does not keep the process alive. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.check(), this.#intervalMs);
    Deno.unrefTimer(this.#timer);
  }

  /** Stops the checks. */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
