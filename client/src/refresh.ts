/**
 * When the instance overview asks the server again (pure).
 *
 * The server refreshes the overview once per window, starting at the window's boundary;
 * each answer says when the next boundary is (`X-Window-Next-Boundary`), how long the last
 * refresh took (`X-Refresh-Ms`), when the value served was computed
 * (`X-Window-Refreshed-At`) and whether it is the current window's (`X-Cache: STALE` is
 * not). So:
 *
 * - holding the current window's value, the client waits for the next boundary plus the
 *   refresh time, a margin and a jitter (so the browsers of an instance do not all arrive in
 *   the same millisecond): it lands once the new value is there;
 * - holding an older window's value (STALE, or computed before the window began), it asks
 *   again soon, backing off, until it holds the new window's value.
 *
 * @module
 */

/** What an answer of `GET /api/instance/overview` says about time. */
export interface OverviewAnswer {
  /** `X-Cache`: HIT, MISS or STALE. */
  xCache: string | null;
  /** When the value was computed, epoch ms (`X-Window-Refreshed-At` or `computedAt`). */
  computedAtMs: number;
  /** `X-Window-Next-Boundary`, epoch ms (NaN when missing). */
  nextBoundaryMs: number;
  /** `X-Window-Ms` (NaN when missing). */
  windowMs: number;
  /** `X-Refresh-Ms` (null when missing). */
  refreshMs: number | null;
}

/** Options of {@linkcode nextOverviewFetch}. */
export interface RefreshOptions {
  /** Added to the refresh time after a boundary (timers and a busy database), in ms. @default {1000} */
  marginMs?: number;
  /** Up to this much more, at random, in ms. @default {1000} */
  jitterMs?: number;
  /** Without `X-Refresh-Ms`, the refresh time assumed, in ms. @default {2000} */
  defaultRefreshMs?: number;
  /** Without a boundary (header missing or unparsable), wait this long, in ms. @default {60_000} */
  fallbackMs?: number;
  /** A number in [0, 1). @default {Math.random} */
  random?: () => number;
}

/** What to do after an answer. */
export interface NextFetch {
  /** Whether the answer is the current window's value (else: an older window's). */
  current: boolean;
  /** Milliseconds until the next request. */
  delayMs: number;
}

/**
 * Whether `answer` holds the current window's value, and when to ask next.
 *
 * @param attempt How many answers in a row were not current before this one (0 first).
 * @example
 * ```ts
 * nextOverviewFetch({
 *   xCache: "HIT", computedAtMs: Date.parse("2026-01-01T00:00:00.100Z"),
 *   nextBoundaryMs: Date.parse("2026-01-01T00:05:00Z"), windowMs: 300_000, refreshMs: 100,
 * }, Date.parse("2026-01-01T00:04:00Z"), 0, { random: () => 0 });
 * // { current: true, delayMs: 61_100 }
 * ```
 */
export function nextOverviewFetch(
  answer: OverviewAnswer,
  nowMs: number,
  attempt = 0,
  options: RefreshOptions = {},
): NextFetch {
  const random = options.random ?? Math.random;
  const refreshMs = answer.refreshMs ?? options.defaultRefreshMs ?? 2000;
  if (!Number.isFinite(answer.nextBoundaryMs)) {
    return { current: answer.xCache !== "STALE", delayMs: options.fallbackMs ?? 60_000 };
  }
  const windowStart = Number.isFinite(answer.windowMs)
    ? answer.nextBoundaryMs - answer.windowMs
    : -Infinity;
  const current = answer.xCache !== "STALE" && answer.computedAtMs >= windowStart;
  if (current) {
    const jitter = (options.jitterMs ?? 1000) * random();
    const delay = Math.max(answer.nextBoundaryMs - nowMs, 0) + refreshMs +
      (options.marginMs ?? 1000) + jitter;
    return { current, delayMs: Math.round(delay) };
  }
  // The refresh is running (or about to): ask again about when it should be done, then
  // back off (×1.5 per try, at most 15 s).
  const base = Math.min(Math.max(refreshMs, 200), 5000);
  const delay = Math.min(base * 1.5 ** attempt, 15_000) * (1 + 0.2 * random());
  return { current, delayMs: Math.round(delay) };
}
