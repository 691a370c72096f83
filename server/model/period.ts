/**
 * YYYYMM period arithmetic, mirroring the SQL function `period_add_months` (migration 001).
 *
 * @module
 */

/**
 * Adds `n` months (may be negative) to a YYYYMM period.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(periodAddMonths(202501, -1), 202412);
 * ```
 */
export function periodAddMonths(periodId: number, n: number): number {
  const index = Math.floor(periodId / 100) * 12 + (periodId % 100) - 1 + n;
  return Math.floor(index / 12) * 100 + (index % 12) + 1;
}

export type { PeriodRange } from "../wire.ts";
