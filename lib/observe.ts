/**
 * Observing the caches: every cache operation is reported to the observers of the store the
 * cache was built on (metrics, logs, traces live in the server; the library only reports).
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
  /**
   * The read was answered by the in-process L1 (no Redis call, no await). Metrics may count
   * such reads without timing them: they take microseconds.
   */
  local?: boolean;
  /** Extra fields (e.g. `computeMs`, `bytes`). */
  detail?: Record<string, unknown>;
}

/** Receives cache operations. Must not throw and must be cheap (it runs on hot paths). */
export type CacheObserver = (operation: CacheOperation) => void;

/**
 * The observers of one `RedisStore` (`store.observers`): every cache built on the
 * store reports its operations here. With no observer added, reporting costs one check.
 */
export class CacheObservers {
  readonly #observers: CacheObserver[] = [];

  /** Adds an observer; returns a function that removes it. */
  add(observer: CacheObserver): () => void {
    this.#observers.push(observer);
    return () => {
      const index = this.#observers.indexOf(observer);
      if (index >= 0) this.#observers.splice(index, 1);
    };
  }

  /** Whether anybody listens (callers skip building the event otherwise). */
  get any(): boolean {
    return this.#observers.length > 0;
  }

  /** Reports one operation to every observer (an observer that throws is skipped). */
  report(operation: CacheOperation): void {
    for (const observer of this.#observers) {
      try {
        observer(operation);
      } catch {
        // an observer must never break a cache call
      }
    }
  }
}

/**
 * Reports the operations of one cache to its store's observers (see
 * {@linkcode CacheObservers}): the common fields filled in, the latency measured from a
 * `performance.now()` reading, the key built only for a report.
 */
export class OperationReporter {
  readonly #observers: CacheObservers | undefined;
  readonly #cache: { readonly name: string };
  readonly #keyOf: (uniquenessHash: string) => string | undefined;

  /**
   * @param cache The cache (its `name` is read at each report: a subclass sets it late).
   * @param keyOf The store key of a uniqueness hash (`undefined` where there is none).
   */
  constructor(
    observers: CacheObservers | undefined,
    cache: { readonly name: string },
    keyOf: (uniquenessHash: string) => string | undefined,
  ) {
    this.#observers = observers;
    this.#cache = cache;
    this.#keyOf = keyOf;
  }

  /** Reports `op` with `result`, started at `started` (ms, `performance.now()`). */
  report(
    op: string,
    result: string,
    started: number,
    uniquenessHash: string | undefined,
    detail?: Record<string, unknown>,
    local?: true,
  ): void {
    this.#observers?.report({
      cache: this.#cache.name,
      op,
      result,
      latencyMs: performance.now() - started,
      key: uniquenessHash === undefined ? undefined : this.#keyOf(uniquenessHash),
      local,
      detail,
    });
  }

  /** Reports `op` failing with `error` (its `code`, if it has one, in the detail). */
  error(op: string, started: number, error: unknown): void {
    this.report(op, "error", started, undefined, { code: (error as { code?: string })?.code });
  }
}
