/**
 * Canonical JSON, the input of every uniqueness hash: the server's cache keys (SHA-256 of
 * it, `caches.ts`) and the browser cache's keys (`client/src/hash.ts`). Pure and without
 * imports, so the web client bundles it as it is (beside the types of `wire.ts`, the only
 * server module it imports).
 *
 * @module
 */

/**
 * JSON with object keys sorted at every depth, so `{a, b}` and `{b, a}` write alike.
 *
 * @example
 * ```ts
 * canonicalJson({ b: [{ d: 1, c: 2 }], a: 1 }); // '{"a":1,"b":[{"c":2,"d":1}]}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : v,
  );
}
