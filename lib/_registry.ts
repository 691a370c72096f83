/**
 * The process's live caches, so that a flush of everything can also stop their in-flight
 * writes (otherwise a computation finishing just after `FLUSHDB` would write its value
 * back).
 *
 * @module
 */

/** What a flush needs from a cache. */
export interface Flushable {
  /** Stops in-flight values from being written; for in-memory caches, also empties them. */
  flushLocal(): void;
}

const live = new Set<WeakRef<Flushable>>();

/** Registers a cache (held weakly: a cache nobody references is not kept alive). */
export function registerCache(cache: Flushable): void {
  live.add(new WeakRef(cache));
}

/** Calls `flushLocal` on every live cache and returns how many there were. */
export function flushLocalCaches(): number {
  let count = 0;
  for (const ref of live) {
    const cache = ref.deref();
    if (!cache) {
      live.delete(ref);
      continue;
    }
    cache.flushLocal();
    count++;
  }
  return count;
}
