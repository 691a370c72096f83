/**
 * Observing the caches: every cache operation is reported to the registered observers
 * (metrics, logs, traces live in the server; the library only reports). With no
 * observer registered, reporting costs one length check.
 *
 * @module
 */

/** One cache operation. */
export interface CacheOperation {
  /** The cache's name (its prefix). */
  cache: string;
  /**
   * `get` / `get_or_set` (a read), `get_many` (one per key of a batch), `set`, `del`,
   * `clear_all`, `fill` (a miss's fill; `result` is its outcome), `expire`.
   */
  op: string;
  /**
   * `hit`, `miss`, `bypass`, `error`; for `fill`: the fill outcome (`leader`,
   * `follower_hit`, …); for `set`: `stored`, `too_large` or `error`.
   */
  result: string;
  /** How long it took, in ms. */
  latencyMs: number;
  /** The Redis key (observers log it only at debug level). */
  key?: string;
  /** Extra fields (e.g. `computeMs`, `bytes`). */
  detail?: Record<string, unknown>;
}

/** Receives cache operations. Must not throw and must be cheap (it runs on hot paths). */
export type CacheObserver = (operation: CacheOperation) => void;

const observers: CacheObserver[] = [];

/** Registers an observer; returns a function that removes it. */
export function addCacheObserver(observer: CacheObserver): () => void {
  observers.push(observer);
  return () => {
    const index = observers.indexOf(observer);
    if (index >= 0) observers.splice(index, 1);
  };
}

/** Whether anybody listens (callers skip building the event otherwise). */
export function observed(): boolean {
  return observers.length > 0;
}

/** Reports one operation to every observer (an observer that throws is skipped). */
export function reportOperation(operation: CacheOperation): void {
  for (const observer of observers) {
    try {
      observer(operation);
    } catch {
      // an observer must never break a cache call
    }
  }
}
