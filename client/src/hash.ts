/**
 * Keys of the browser cache: `<cache>/<uniquenessHash>::<version>`, where the uniqueness
 * hash is a 64-bit hash of the canonical JSON of the parameters (object keys sorted). Not a
 * cryptographic hash (WebCrypto's digest needs a secure context, which a self-hosted
 * instance on plain HTTP over a LAN is not); keys only need to be distinct.
 *
 * @module
 */
import { canonicalJson } from "../../server/canonical_json.ts";

export { canonicalJson };

/**
 * A 64-bit hash (16 hex digits) of the canonical JSON of `params` (two 32-bit
 * multiply-xorshift lanes, as cyrb53 does).
 *
 * @example
 * ```ts
 * uniquenessHash({ poId: "a", projectId: "p" }) === uniquenessHash({ projectId: "p", poId: "a" });
 * ```
 */
export function uniquenessHash(params: unknown): string {
  const text = canonicalJson(params) ?? "undefined";
  let h1 = 0xdeadbeef ^ text.length;
  let h2 = 0x41c6ce57 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h2 >>> 0).toString(16).padStart(8, "0") + (h1 >>> 0).toString(16).padStart(8, "0");
}

/**
 * The browser cache key of `params` in `cache` at `version`.
 *
 * @example
 * ```ts
 * cacheKey("po_items", { projectId: "demo", poId: "po_a" }, "2025-01-01T00:00:00.000000Z|never");
 * // "po_items/<16 hex>::2025-01-01T00:00:00.000000Z|never"
 * ```
 */
export function cacheKey(cache: string, params: unknown, version: string): string {
  return `${cache}/${uniquenessHash(params)}::${version}`;
}

/** The part of a key before its version (`<cache>/<uniquenessHash>::`). */
export function keyStem(key: string): string {
  return key.slice(0, key.indexOf("::") + 2);
}
