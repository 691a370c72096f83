/**
 * The live caches of one `RedisStore`, so that a flush of everything can also stop their
 * in-flight writes (otherwise a computation finishing just after `FLUSHDB` would write its
 * value back).
 *
 * @module
 */

/** What a flush needs from a cache. */
export interface Flushable {
  /** Stops in-flight values from being written; for in-memory caches, also empties them. */
  flushLocal(): void;
}

/** The caches built on one store, held weakly (a cache nobody references is not kept alive). */
export class LiveCaches {
  readonly #live = new Set<WeakRef<Flushable>>();

  /** Registers a cache. */
  register(cache: Flushable): void {
    this.#live.add(new WeakRef(cache));
  }

  /** Calls `flushLocal` on every live cache and returns how many there were. */
  flushLocal(): number {
    let count = 0;
    for (const ref of this.#live) {
      const cache = ref.deref();
      if (!cache) {
        this.#live.delete(ref);
        continue;
      }
      cache.flushLocal();
      count++;
    }
    return count;
  }
}
