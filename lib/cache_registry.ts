/**
 * The cache-fill policy registry: one declarative table of a server's caches, checked
 * when it is built.
 *
 * @module
 */
import { checkFillPolicy, type FillPolicy } from "./fill_policy.ts";

/** One cache of the table. */
export interface CachePolicy {
  /** The cache's prefix (`cache:<prefix>:…`). */
  prefix: string;
  /** Coordinate misses across processes with the fleet fill lock (needs `fill`). */
  fleet: boolean;
  /** The fill policy; without one, a miss is coordinated in-process only. */
  fill?: FillPolicy;
  /** Write TTL bounds, in seconds (drawn uniformly). @default {15 to 30 days} */
  writeTtlS?: { min: number; max: number };
  /** TTL set again on every hit, in seconds. @default {30 days} */
  readRefreshTtlS?: number;
  /** What the cache holds, for people reading the table. */
  description?: string;
}

/** A checked table of caches, by prefix. */
export type CacheRegistry = ReadonlyMap<string, Readonly<CachePolicy>>;

/**
 * Builds the registry, checking every policy.
 *
 * @throws {RangeError} For a fill policy that breaks an invariant (see `checkFillPolicy`),
 *   TTL bounds that are not `0 < min <= max`, or `fleet: true` without a fill policy.
 * @throws {TypeError} For an empty or duplicated prefix, or one containing `:`.
 */
export function defineCacheRegistry(policies: readonly CachePolicy[]): CacheRegistry {
  const registry = new Map<string, Readonly<CachePolicy>>();
  for (const policy of policies) {
    const { prefix } = policy;
    if (!prefix || prefix.includes(":")) {
      throw new TypeError(
        `Cannot register cache '${prefix}': a prefix is non-empty and has no ':'`,
      );
    }
    if (registry.has(prefix)) throw new TypeError(`Cannot register cache '${prefix}' twice`);
    if (policy.fill) checkFillPolicy(prefix, policy.fill);
    if (policy.fleet && !policy.fill) {
      throw new RangeError(`Cannot register cache '${prefix}': 'fleet' needs a 'fill' policy`);
    }
    if (
      policy.writeTtlS &&
      !(policy.writeTtlS.min > 0 && policy.writeTtlS.min <= policy.writeTtlS.max)
    ) {
      throw new RangeError(
        `Cannot register cache '${prefix}': write TTL bounds (${policy.writeTtlS.min} s, ` +
          `${policy.writeTtlS.max} s) must satisfy 0 < min <= max`,
      );
    }
    if (policy.readRefreshTtlS !== undefined && !(policy.readRefreshTtlS > 0)) {
      throw new RangeError(
        `Cannot register cache '${prefix}': 'readRefreshTtlS' (${policy.readRefreshTtlS}) must be above 0`,
      );
    }
    registry.set(prefix, Object.freeze({ ...policy }));
  }
  return registry;
}
