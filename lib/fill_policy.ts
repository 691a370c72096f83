/**
 * Fill policies: how a cache coordinates a miss across processes (the fleet fill lock).
 *
 * @module
 */

/** How a cache coordinates a miss across processes. All durations in milliseconds. */
export interface FillPolicy {
  /**
   * How long the fill lock lives without being extended. The leader extends it every
   * {@linkcode heartbeatMs} (a third of this, at most 1 s) while its producer runs, so only
   * a dead or stalled leader loses it.
   */
  leaseMs: number;
  /**
   * The hard cap of a follower's wait for one live leader (a leader that keeps extending
   * its lease). Past it, exactly one follower takes the fill over (the old leader's write
   * is then refused) and the others follow the new leader. Size it above the slowest
   * normal computation of the cache: a live leader is otherwise never abandoned.
   * @default {120_000}
   */
  maxWaitMs?: number;
  /**
   * Only where latency matters more than load: after this long, a follower of a live
   * leader computes for itself (without writing; the leader's write stands). Unset (the
   * default), followers wait for a live leader up to `maxWaitMs`. Must be below `maxWaitMs`.
   */
  waitMs?: number;
  /** Shortest pause between two polls of the data key. */
  pollMinMs: number;
  /**
   * Longest pause between two polls (the backoff grows from `pollMinMs` to this). Below the
   * heartbeat: a follower must see the lease grow at least once per liveness window.
   */
  pollMaxMs: number;
}

/** The default {@linkcode FillPolicy.maxWaitMs}: two minutes. */
export const DEFAULT_MAX_WAIT_MS = 120_000;

/**
 * How often a leader extends its lease: a third of `leaseMs`, between 10 ms and 1 s.
 */
export function heartbeatMs(policy: Pick<FillPolicy, "leaseMs">): number {
  return Math.min(1000, Math.max(10, Math.floor(policy.leaseMs / 3)));
}

/**
 * How long a leader may go without extending its lease before its followers take it for
 * dead: 2.5 heartbeats (so at most 2.5 s), plus one poll.
 */
export function livenessWindowMs(policy: Pick<FillPolicy, "leaseMs">): number {
  return 2.5 * heartbeatMs(policy);
}

/**
 * Checks the invariants of a fill policy: finite positive durations; `pollMaxMs` at least
 * `pollMinMs` and below the leader's heartbeat (a slower poll can miss every extension of
 * a live leader's lease and take it for dead: issue 13); `maxWaitMs` above the liveness
 * window (a shorter cap abandons leaders before death could be told from slowness);
 * `waitMs`, when set, below `maxWaitMs`.
 *
 * @param cache The cache's name, for the message.
 * @returns The policy, unchanged.
 * @throws {RangeError} Naming the cache, the field and the values that break a rule.
 * @example Reject polls slower than the heartbeat
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkFillPolicy } from "./fill_policy.ts";
 * assert.throws(
 *   () => checkFillPolicy("po_items", { leaseMs: 3000, pollMinMs: 10, pollMaxMs: 1500 }),
 *   RangeError,
 * );
 * ```
 */
export function checkFillPolicy(cache: string, policy: FillPolicy): FillPolicy {
  const fail = (rule: string) => {
    throw new RangeError(`Cannot register cache '${cache}': ${rule}`);
  };
  const fields = ["leaseMs", "pollMinMs", "pollMaxMs", "maxWaitMs", "waitMs"] as const;
  for (const field of fields) {
    const value = policy[field];
    if (value === undefined && (field === "maxWaitMs" || field === "waitMs")) continue;
    if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
      fail(`'${field}' (${value}) must be a positive finite number of milliseconds`);
    }
  }
  const { pollMinMs, pollMaxMs, waitMs } = policy;
  const maxWaitMs = policy.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  const heartbeat = heartbeatMs(policy);
  if (!(pollMaxMs >= pollMinMs)) {
    fail(`'pollMaxMs' (${pollMaxMs}) must be at least 'pollMinMs' (${pollMinMs})`);
  }
  if (!(pollMaxMs < heartbeat)) {
    fail(
      `'pollMaxMs' (${pollMaxMs}) must be below the leader's heartbeat (${heartbeat} ms, a ` +
        `third of 'leaseMs', at most 1000): a slower poll can take a live leader for dead`,
    );
  }
  const window = livenessWindowMs(policy);
  if (!(maxWaitMs > window)) {
    fail(`'maxWaitMs' (${maxWaitMs}) must be above the liveness window (${window} ms)`);
  }
  if (waitMs !== undefined && !(waitMs < maxWaitMs)) {
    fail(`'waitMs' (${waitMs}) must be below 'maxWaitMs' (${maxWaitMs})`);
  }
  return policy;
}
