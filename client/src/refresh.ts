/**
 * When the instance overview refreshes itself: just after the server's window boundary
 * (`X-Window-Next-Boundary`), plus a small lag and a jitter, so the request lands once the
 * fleet has refreshed the value (a warm `HIT`) and the browsers of one instance do not all
 * arrive in the same millisecond.
 *
 * @module
 */

/** Options of {@linkcode refreshDelayMs}. */
export interface RefreshOptions {
  /** Wait after the boundary, in ms. @default {2000} */
  lagMs?: number;
  /** Up to this much more, at random, in ms. @default {1000} */
  jitterMs?: number;
  /** Without a boundary (header missing or unparsable), wait this long, in ms. @default {60_000} */
  fallbackMs?: number;
  /** A number in [0, 1). @default {Math.random} */
  random?: () => number;
}

/**
 * Milliseconds from `nowMs` until the next refresh: the boundary plus the lag and jitter,
 * and never less than the lag (a boundary already past refreshes after the lag).
 *
 * @param nextBoundary `X-Window-Next-Boundary` (ISO-8601), or null.
 * @example
 * ```ts
 * refreshDelayMs("2026-01-01T00:05:00.000Z", Date.parse("2026-01-01T00:04:00.000Z"), { random: () => 0 });
 * // 62_000
 * ```
 */
export function refreshDelayMs(
  nextBoundary: string | null,
  nowMs: number,
  options: RefreshOptions = {},
): number {
  const lagMs = options.lagMs ?? 2000;
  const jitter = (options.jitterMs ?? 1000) * (options.random ?? Math.random)();
  const boundaryMs = nextBoundary === null ? NaN : Date.parse(nextBoundary);
  if (Number.isNaN(boundaryMs)) return options.fallbackMs ?? 60_000;
  return Math.round(Math.max(boundaryMs - nowMs, 0) + lagMs + jitter);
}
