/**
 * The cache library's errors: one base class with a stable `code`.
 *
 * @module
 */

/** Base of the cache library's errors. */
export class CacheError extends Error {
  /** Stable machine-readable code: `FILL_FAILED` or `PRODUCER_TIMEOUT`. */
  readonly code: string;
  /**
   * A cache error with a stable `code`.
   *
   * @param code Stable machine-readable code.
   * @param message What happened, for people.
   */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CacheError";
    this.code = code;
  }
}

/**
 * Thrown to the followers of a fleet fill whose leader's producer failed (in another
 * process): they fail as the leader's own callers did, instead of waiting for a value that
 * will not come. Code `FILL_FAILED`.
 */
export class CacheFillError extends CacheError {
  /** The cache whose fill failed. */
  readonly cache: string;
  /** The leader's error, as `<name>: <message>`. */
  readonly leaderError: string;
  /**
   * The error a follower gets when the fleet leader's producer failed.
   *
   * @param cache The cache's name.
   * @param leaderError The leader's error, as `<name>: <message>`.
   */
  constructor(cache: string, leaderError: string) {
    super("FILL_FAILED", `Filling cache '${cache}' failed in another process: ${leaderError}`);
    this.name = "CacheFillError";
    this.cache = cache;
    this.leaderError = leaderError;
  }
}

/**
 * Thrown to every caller of a fill (its own caller and everyone who joined it) when the
 * fill took longer than the cache's `producerTimeoutMs`. The fill is abandoned: whatever
 * it produces later is not stored, and the next caller starts a new one. Code
 * `PRODUCER_TIMEOUT`.
 */
export class CacheTimeoutError extends CacheError {
  /** The cache whose fill timed out. */
  readonly cache: string;
  /** The timeout that passed, in ms. */
  readonly timeoutMs: number;
  /**
   * The error of a fill whose producer outran its timeout.
   *
   * @param cache The cache's name.
   * @param timeoutMs The timeout that passed, in ms.
   */
  constructor(cache: string, timeoutMs: number) {
    super(
      "PRODUCER_TIMEOUT",
      `Filling cache '${cache}' took longer than its producer timeout (${timeoutMs} ms)`,
    );
    this.name = "CacheTimeoutError";
    this.cache = cache;
    this.timeoutMs = timeoutMs;
  }
}
