/**
 * Exponential backoff with jitter, the one helper for every retry and poll loop of the
 * library and the server (fleet-fill polls, the memo's polls, event mirror retries, Redis
 * reconnects). Jitter spreads the retries of many waiters so they do not arrive together
 * (AWS Architecture Blog, "Exponential Backoff And Jitter": "full" and "equal" jitter).
 *
 * @module
 */

/** Options of {@linkcode jitteredBackoffMs}. */
export interface BackoffOptions {
  /** The first pause, in ms (attempt 0), and the floor of every pause under full jitter. */
  minMs: number;
  /** The largest ceiling, in ms: the doubling stops here. */
  maxMs: number;
  /**
   * `"full"`: uniform between `minMs` and the ceiling (spreads waiters the most);
   * `"equal"`: uniform between half the ceiling and the ceiling (never much shorter than
   * the ceiling). @default {"full"}
   */
  jitter?: "full" | "equal";
}

/**
 * The pause before retry or poll `attempt` (0-based), in ms: the ceiling
 * `min(maxMs, minMs × 2^attempt)`, jittered as `options.jitter` says.
 *
 * @param attempt 0 for the first pause; a negative or fractional attempt counts as 0 or
 *   its floor.
 * @param options The bounds, in ms; `random` draws from [0, 1) (tests pass a fixed one).
 * @throws {RangeError} If `minMs` is negative or `maxMs` is below `minMs`.
 */
export function jitteredBackoffMs(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const { minMs, maxMs, jitter = "full" } = options;
  if (!(minMs >= 0) || !(maxMs >= minMs)) {
    throw new RangeError(`Cannot back off: need 0 <= minMs (${minMs}) <= maxMs (${maxMs})`);
  }
  const exponent = Math.max(0, Math.floor(attempt));
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(exponent, 52));
  return jitter === "full"
    ? minMs + random() * (ceiling - minMs)
    : ceiling / 2 + random() * (ceiling / 2);
}
