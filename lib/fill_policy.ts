/**
 * Fill policies: how a cache coordinates a miss across processes (the fleet fill lock).
 *
 * @module
 */

/** How a cache coordinates a miss across processes. All durations in milliseconds. */
export interface FillPolicy {
  /**
   * How long the fill lock lives without being extended. The leader extends it every
   * third of this while its producer runs, so only a dead or stalled leader loses it.
   */
  leaseMs: number;
  /**
   * How long a follower waits for the leader's value before it takes over the fill
   * itself (atomically: exactly one follower takes over from a given leader). Below
   * `leaseMs`, so a dead leader is replaced before its lease would expire on its own.
   */
  waitMs: number;
  /** Shortest pause between two polls of the data key. */
  pollMinMs: number;
  /** Longest pause between two polls (the backoff grows from `pollMinMs` to this). */
  pollMaxMs: number;
}

/**
 * Checks the invariants of a fill policy: `waitMs < leaseMs`, `pollMinMs > 0`,
 * `pollMaxMs >= pollMinMs`, `pollMaxMs < waitMs`, all finite numbers.
 *
 * @param cache The cache's name, for the message.
 * @returns The policy, unchanged.
 * @throws {RangeError} Naming the cache, the field and the values that break a rule.
 * @example Reject a wait longer than the lease
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkFillPolicy } from "./fill_policy.ts";
 * assert.throws(
 *   () => checkFillPolicy("po_items", { leaseMs: 3000, waitMs: 5000, pollMinMs: 10, pollMaxMs: 100 }),
 *   RangeError,
 * );
 * ```
 */
export function checkFillPolicy(cache: string, policy: FillPolicy): FillPolicy {
  const fail = (rule: string) => {
    throw new RangeError(`Cannot register cache '${cache}': ${rule}`);
  };
  for (const field of ["leaseMs", "waitMs", "pollMinMs", "pollMaxMs"] as const) {
    const value = policy[field];
    if (typeof value !== "number" || !Number.isFinite(value)) {
      fail(`'${field}' (${value}) must be a finite number of milliseconds`);
    }
  }
  const { leaseMs, waitMs, pollMinMs, pollMaxMs } = policy;
  if (!(waitMs < leaseMs)) fail(`'waitMs' (${waitMs}) must be below 'leaseMs' (${leaseMs})`);
  if (!(pollMinMs > 0)) fail(`'pollMinMs' (${pollMinMs}) must be above 0`);
  if (!(pollMaxMs >= pollMinMs)) {
    fail(`'pollMaxMs' (${pollMaxMs}) must be at least 'pollMinMs' (${pollMinMs})`);
  }
  if (!(pollMaxMs < waitMs)) fail(`'pollMaxMs' (${pollMaxMs}) must be below 'waitMs' (${waitMs})`);
  return policy;
}
