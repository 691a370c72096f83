/**
 * The time bounds of the versioned caches' fills: the checked durations
 * (`missLeaseMs`, `producerTimeoutMs`, `softTimeoutMs`), the hard timeout (past it the
 * fill's callers get a `CacheTimeoutError` and the fill is forgotten) and the opt-in soft
 * timeout (past it a slow fill's callers get the value of another version, outcome `stale`).
 *
 * @module
 */
import { CacheTimeoutError } from "./errors.ts";
import type { Flight } from "./_flights.ts";
import { deepFreeze } from "./_freeze.ts";
import type { CacheObservers } from "./observe.ts";
import type { VersionedCacheOptions } from "./_store_contract.ts";

/** The durations of a cache's fills, with defaults applied, in ms. */
export interface FillTimeouts {
  /** See {@linkcode VersionedCacheOptions.missLeaseMs}. */
  missLeaseMs: number;
  /** See {@linkcode VersionedCacheOptions.producerTimeoutMs}. */
  producerTimeoutMs: number;
  /** See {@linkcode VersionedCacheOptions.softTimeoutMs}; `undefined` when off. */
  softTimeoutMs: number | undefined;
}

/**
 * The durations of `options`, with their defaults.
 *
 * @throws {RangeError} If a duration is not a positive finite number, or `softTimeoutMs`
 *   is not below `producerTimeoutMs`.
 */
export function checkTimeouts(options: VersionedCacheOptions): FillTimeouts {
  const missLeaseMs = positive("missLeaseMs", options.missLeaseMs ?? 5000);
  const producerTimeoutMs = positive("producerTimeoutMs", options.producerTimeoutMs ?? 300_000);
  const softTimeoutMs = options.softTimeoutMs === undefined
    ? undefined
    : positive("softTimeoutMs", options.softTimeoutMs);
  if (softTimeoutMs !== undefined && !(softTimeoutMs < producerTimeoutMs)) {
    throw new RangeError(
      `Cannot create cache: 'softTimeoutMs' (${softTimeoutMs}) must be below ` +
        `'producerTimeoutMs' (${producerTimeoutMs})`,
    );
  }
  return { missLeaseMs, producerTimeoutMs, softTimeoutMs };
}

/**
 * Past `timeoutMs`, the fill's callers get a {@linkcode CacheTimeoutError}, the fill is
 * abandoned and `forget` removes it from the flight table.
 */
export function armHardTimeout<T>(
  own: Flight<T>,
  fill: {
    cache: string;
    timeoutMs: number;
    key: string | undefined;
    forget(): void;
    observers: CacheObservers | undefined;
  },
): void {
  own.after(fill.timeoutMs, () => {
    const error = new CacheTimeoutError(fill.cache, fill.timeoutMs);
    own.interrupt({ kind: "timeout", error });
    own.abandon();
    fill.forget();
    if (fill.observers?.any) {
      fill.observers.report({
        cache: fill.cache,
        op: "fill",
        result: "timeout",
        latencyMs: fill.timeoutMs,
        key: fill.key,
      });
    }
  });
}

/**
 * Past `softTimeoutMs` (when set, and the key holds a value of another version), the
 * fill's callers get that value (outcome `stale`) while the fill goes on in the background.
 */
export function armSoftTimeout<T>(own: Flight<T>, softTimeoutMs: number | undefined): void {
  if (softTimeoutMs === undefined || !own.stale) return;
  const stale = own.stale;
  own.after(softTimeoutMs, () => {
    deepFreeze(stale.data);
    own.interrupt({ kind: "stale", value: stale.data, versionHash: stale.versionHash });
  });
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new RangeError(
      `Cannot create cache: '${name}' (${value}) must be a positive number of ms`,
    );
  }
  return value;
}
