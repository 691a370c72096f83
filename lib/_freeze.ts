/**
 * Deep freezing of the values a cache shares between callers.
 *
 * A value the cache hands to more than one caller (an L1 entry, a `TimCacheB` entry, the
 * result of a flight other callers joined) is one object: a caller that mutated it would
 * change what every later caller gets. Freezing it makes such a mutation throw (module
 * code is strict) instead of corrupting the cache. Freezing costs one walk of the value,
 * paid once when it enters the cache, never on a hit.
 *
 * Typed arrays and `ArrayBuffer`s cannot be frozen and are left as they are; `Map` and `Set`
 * contents stay mutable (their methods are not blocked by `Object.freeze`): cached values
 * are JSON data, which has neither.
 *
 * @module
 */

/**
 * Freezes `value` and every object reachable from it (cycles are fine); returns `value`.
 * Objects already frozen are not walked again.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return value;
  const stack: object[] = [value as object];
  while (stack.length > 0) {
    const object = stack.pop()!;
    if (ArrayBuffer.isView(object) || object instanceof ArrayBuffer) continue;
    Object.freeze(object);
    for (const key of Object.keys(object)) {
      const child = (object as Record<string, unknown>)[key];
      if (typeof child === "object" && child !== null && !Object.isFrozen(child)) {
        stack.push(child);
      }
    }
  }
  return value;
}
