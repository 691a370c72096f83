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
  /** The cache's name, for errors. */
  readonly name?: string;
}

/** The caches built on one store, held weakly (a cache nobody references is not kept alive). */
export class LiveCaches {
  readonly #live = new Set<WeakRef<Flushable>>();
  #owner: WeakRef<Flushable> | undefined;

  /**
   * Registers a cache.
   *
   * @param options `ownsDatabase`: the cache has the store's database to itself
   *   (`TimCacheC`'s option of that name).
   * @throws {TypeError} If the cache owns the database and other caches use the store, or
   *   a live cache owns it already.
   */
  register(cache: Flushable, options: { ownsDatabase?: boolean } = {}): void {
    const owner = this.#owner?.deref();
    if (owner) {
      throw new TypeError(
        `Cannot build cache '${cache.name}' on this store: cache '${owner.name}' has its ` +
          "database to itself ('ownsDatabase'); give each cache a store of its own",
      );
    }
    if (options.ownsDatabase) {
      const others = this.#alive().map((other) => `'${other.name}'`);
      if (others.length > 0) {
        throw new TypeError(
          `Cannot build cache '${cache.name}' with 'ownsDatabase' on a store that other ` +
            `caches use (${others.join(", ")}): connect a store to a database of its own`,
        );
      }
      this.#owner = new WeakRef(cache);
    }
    this.#live.add(new WeakRef(cache));
  }

  /** The live caches (forgetting the collected ones). */
  #alive(): Flushable[] {
    const alive: Flushable[] = [];
    for (const ref of this.#live) {
      const cache = ref.deref();
      if (cache) alive.push(cache);
      else this.#live.delete(ref);
    }
    return alive;
  }

  /** Calls `flushLocal` on every live cache and returns how many there were. */
  flushLocal(): number {
    const alive = this.#alive();
    for (const cache of alive) cache.flushLocal();
    return alive.length;
  }
}
