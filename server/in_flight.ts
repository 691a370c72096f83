/**
 * Counting the requests whose handler has not returned yet, so that a shutdown under
 * `deno serve` (where the runtime, not the app, owns the listener) can wait for them before
 * closing Redis and Postgres.
 *
 * @module
 */

/** A handler that counts its running calls, and a way to wait until none runs. */
export interface InFlight<A extends unknown[]> {
  /** The wrapped handler. */
  fetch(request: Request, ...rest: A): Promise<Response>;
  /** Resolves once no call is running (at once when none is). */
  idle(): Promise<void>;
  /** Calls running now. */
  readonly active: number;
}

/**
 * Wraps `handler` to count its running calls. A streamed body (server-sent events) counts
 * only until the handler returns its response; end such streams separately.
 *
 * @example Wait for running requests before closing the database
 * ```ts
 * const inFlight = trackInFlight(app.fetch);
 * // export default { fetch: inFlight.fetch }; on SIGTERM:
 * await inFlight.idle();
 * await db.close();
 * ```
 */
export function trackInFlight<A extends unknown[]>(
  handler: (request: Request, ...rest: A) => Response | Promise<Response>,
): InFlight<A> {
  let active = 0;
  let waiters: (() => void)[] = [];
  return {
    async fetch(request, ...rest) {
      active++;
      try {
        return await handler(request, ...rest);
      } finally {
        if (--active === 0) {
          for (const wake of waiters) wake();
          waiters = [];
        }
      }
    },
    idle: () => active === 0 ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve)),
    get active() {
      return active;
    },
  };
}
