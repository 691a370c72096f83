/**
 * Joining a flight in progress (`VersionedCache.getOrSet` on a key and version another
 * caller is already filling or reading). Joiners are kept on the flight and released
 * together by one reaction, not one each: a joiner costs a promise and a slot, which is what
 * lets a burst of hits on one key cost about what one shared promise costs. A joiner reads
 * no clock: its `lookupMs` is the flight's, from its start to its value.
 *
 * @module
 */
import type { Flight, FlightResult } from "./_flights.ts";
import type { CacheResult } from "./types.ts";

/**
 * What a joiner does when its flight ended without a value for it (a clear, a value of
 * another version): the cache's lookup again, with the joiner's own producer, as if it had
 * waited alone (the first to retry starts the next flight, the rest join it).
 */
export type RetryJoiner<T> = (
  flight: Flight<T>,
  producer: () => Promise<T>,
) => Promise<CacheResult<T>>;

/** A caller waiting for a flight. */
interface Joiner<T> {
  resolve(result: CacheResult<T> | Promise<CacheResult<T>>): void;
  reject(error: unknown): void;
  producer: () => Promise<T>;
}

/**
 * Waits for `flight` as a joiner: its value as a `hit`, its soft-timeout value as `stale`,
 * its error (a producer error, a timeout) rejected, or `retry`'s result.
 */
export function joinFlight<T>(
  flight: Flight<T>,
  producer: () => Promise<T>,
  retry: RetryJoiner<T>,
): Promise<CacheResult<T>> {
  return new Promise((resolve, reject) => {
    const joiner: Joiner<T> = { resolve, reject, producer };
    if (flight.joiners) {
      flight.joiners.push(joiner);
      return;
    }
    flight.joiners = [joiner];
    flight.waiters.then((result) => release(flight, result, retry));
  });
}

/** Hands the flight's result to its joiners, in the order they joined. */
function release<T>(flight: Flight<T>, result: FlightResult<T>, retry: RetryJoiner<T>): void {
  const joiners = flight.joiners as Joiner<T>[];
  flight.joiners = undefined;
  if (result.kind === "value") {
    const lookupMs = lookupMsOf(flight);
    for (const { resolve } of joiners) {
      resolve({ value: result.value, outcome: "hit", lookupMs, computeMs: 0 });
    }
    return;
  }
  for (const { resolve, reject, producer } of joiners) {
    try {
      resolve(joinedOther(flight, result, producer, retry));
    } catch (error) {
      reject(error);
    }
  }
}

/** A joiner's result when the flight ended without a value for it. */
function joinedOther<T>(
  flight: Flight<T>,
  result: FlightResult<T>,
  producer: () => Promise<T>,
  retry: RetryJoiner<T>,
): Promise<CacheResult<T>> | CacheResult<T> {
  switch (result.kind) {
    case "value":
    case "stale":
      return {
        value: result.value,
        outcome: result.kind === "value" ? "hit" : "stale",
        ...(result.kind === "stale" ? { staleVersionHash: result.versionHash } : {}),
        lookupMs: lookupMsOf(flight),
        computeMs: 0,
      };
    case "error":
    case "timeout":
      throw result.error;
    case "retry":
      return retry(flight, producer);
  }
}

/** A joiner's `lookupMs`: the flight's, from its start to the first joiner served (read once). */
function lookupMsOf(flight: { startedAt: number; lookupMs?: number }): number {
  return flight.lookupMs ??= performance.now() - flight.startedAt;
}
