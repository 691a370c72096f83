/**
 * The cache library's errors: one base class with a stable `code`.
 *
 * @module
 */

/** Base of the cache library's errors. */
export class CacheError extends Error {
  /** Stable machine-readable code. */
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CacheError";
    this.code = code;
  }
}

/**
 * Thrown to the followers of a fleet fill whose leader's producer failed (in another
 * process): they fail as the leader's own callers did, instead of waiting `waitMs`.
 */
export class CacheFillError extends CacheError {
  /** The cache whose fill failed. */
  readonly cache: string;
  /** The leader's error, as `<name>: <message>`. */
  readonly leaderError: string;
  constructor(cache: string, leaderError: string) {
    super("FILL_FAILED", `Filling cache '${cache}' failed in another process: ${leaderError}`);
    this.name = "CacheFillError";
    this.cache = cache;
    this.leaderError = leaderError;
  }
}
