/**
 * The stored form of a `TimCacheC` entry.
 *
 * An entry is the JSON `{"versionHash": string, "data": T}`; above `compressAboveBytes` that
 * JSON is deflated (raw, level 6) and stored as base64 behind `z1:` (the measurements behind
 * the codec are in docs/performance.md). Decoding is bounded: an entry, compressed or not,
 * whose JSON would be longer than `maxValueBytes` is broken, and inflating stops there
 * (a small stored value cannot expand into gigabytes).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { inflateRawSync } from "node:zlib";
import { deflateBase64Sync, type OffThreadDeflate } from "./off_thread_deflate.ts";

/** Marks a compressed entry (deflate-raw, base64). */
export const COMPRESSED = "z1:";

/** A decoded entry. */
export interface Entry<T> {
  versionHash: string;
  data: T;
}

/**
 * A decoded entry and the length of its JSON once inflated, in UTF-16 code units: the size
 * an L1 charges for it. Not the stored length: a compressed entry's stored form is several
 * times smaller than the objects it decodes into (a national items body: 0.3 MB stored,
 * 1.3 MB of JSON).
 */
export interface DecodedEntry<T> extends Entry<T> {
  jsonLength: number;
}

/** Limits of the codec, in bytes. */
export interface CodecLimits {
  /** Entries whose JSON is longer are stored compressed. */
  compressAboveBytes: number;
  /** Entries whose JSON is longer are compressed by `offThread` (when given), not on this thread. */
  offThreadAboveBytes: number;
  /** Entries longer than this (stored, or as JSON once inflated) are refused. */
  maxValueBytes: number;
}

/**
 * The stored form of an entry, or why there is none: `too_large` (longer than
 * `maxValueBytes` once encoded) or `unencodable` (JSON cannot encode it: a BigInt, a cycle,
 * or `undefined` data). JSON longer than `limits.offThreadAboveBytes` is deflated by
 * `offThread` (the same bytes, off the event loop). Never rejects.
 */
export async function encodeEntry<T>(
  versionHash: string,
  data: T,
  limits: CodecLimits,
  offThread?: OffThreadDeflate,
): Promise<{ stored: string } | { refused: "too_large" | "unencodable" }> {
  if (data === undefined || typeof data === "function" || typeof data === "symbol") {
    return { refused: "unencodable" }; // JSON would drop the field
  }
  let json: string;
  try {
    json = JSON.stringify({ versionHash, data });
  } catch {
    return { refused: "unencodable" };
  }
  const stored = json.length <= limits.compressAboveBytes
    ? json
    : COMPRESSED + (offThread && json.length > limits.offThreadAboveBytes
      ? await offThread.deflateBase64(json)
      : deflateBase64Sync(json));
  return stored.length > limits.maxValueBytes ? { refused: "too_large" } : { stored };
}

/** Decodes inflated JSON: several times faster than `Buffer#toString` on Deno (50 KB: 8 µs, not 50). */
const UTF8 = new TextDecoder();

/** Parses a stored entry; `undefined` for anything that is not one of ours, or too large. */
export function decodeEntry<T>(raw: string, maxValueBytes: number): DecodedEntry<T> | undefined {
  let parsed: unknown;
  let jsonLength: number;
  try {
    const json = raw.startsWith(COMPRESSED)
      ? UTF8.decode(inflateRawSync(Buffer.from(raw.slice(COMPRESSED.length), "base64"), {
        maxOutputLength: maxValueBytes,
      }))
      : raw;
    if (json.length > maxValueBytes) return undefined;
    jsonLength = json.length;
    parsed = JSON.parse(json);
  } catch {
    return undefined; // not JSON, not deflate, or inflating past the limit (RangeError)
  }
  if (
    typeof parsed !== "object" || parsed === null || Array.isArray(parsed) ||
    typeof (parsed as { versionHash?: unknown }).versionHash !== "string" ||
    !("data" in parsed)
  ) return undefined;
  const entry = parsed as DecodedEntry<T>;
  entry.jsonLength = jsonLength;
  return entry;
}
