/**
 * Which values a versioned cache may hand out and store, by the cache's `parseData`
 * (`HashFuncs`): no caller gets another key's or version's data, and only what
 * `parseData` says to store is stored.
 *
 * @module
 */
import type { Flight } from "./_flights.ts";
import { ANY_VERSION, type HashFuncs } from "./types.ts";

/** The part of the cache's hash functions these checks use. */
type ParseData<T> = Pick<HashFuncs<unknown, unknown, T>, "parseData">;

/**
 * Whether a stored entry belongs under `uniquenessHash`: `parseData` of its data names
 * that key and the entry's own version. An entry copied or swapped under another key
 * (same version, wrong data) fails this and is treated as broken, as the write path
 * refuses it.
 */
export function entryBelongsTo<T>(
  funcs: ParseData<T>,
  uniquenessHash: string,
  entry: { versionHash: string; data: T },
): boolean {
  try {
    const parsed = funcs.parseData(entry.data);
    return parsed.uniquenessHash === uniquenessHash && parsed.versionHash === entry.versionHash;
  } catch {
    return false;
  }
}

/** Whether a computed value may go to the flight's waiters: it is the flight's key and version. */
export function belongsToFlight<T>(funcs: ParseData<T>, flight: Flight<T>, value: T): boolean {
  try {
    const parsed = funcs.parseData(value);
    return parsed.uniquenessHash === flight.key &&
      (flight.version === ANY_VERSION || parsed.versionHash === flight.version);
  } catch {
    return true; // unreadable by parseData: shared (never stored), as its caller gets it
  }
}

/**
 * Whether a computed value may be written: `parseData` says `shouldStore` for the same key
 * and version, and no clear detached its flight.
 */
export function storable<T>(funcs: ParseData<T>, flight: Flight<T>, value: T): boolean {
  if (flight.detached) return false;
  try {
    const parsed = funcs.parseData(value);
    return parsed.shouldStore && parsed.versionHash === flight.version &&
      parsed.uniquenessHash === flight.key;
  } catch {
    return false; // a value parseData cannot read is not stored
  }
}

/** Whether a stored or in-flight version satisfies a read for `wanted`. */
export function matches(stored: string, wanted: string): boolean {
  return wanted === ANY_VERSION || stored === wanted;
}
