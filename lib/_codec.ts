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

/**
 * How a cache's data becomes the `data` of its entries' JSON and back. The default writes
 * and reads it with `JSON.stringify` and `JSON.parse`; a cache whose data holds a large
 * body already serialized (the server's items: Postgres's JSON text) writes that text in
 * place and reads it back as text, so neither side escapes, parses or re-serializes it.
 */
export interface DataCodec<T> {
  /**
   * The JSON text of `data`: one JSON value. Throwing (or not returning a string) refuses
   * the value (`unencodable`: not stored).
   */
  stringify(data: T): string;
  /**
   * The data of a JSON text that `stringify` wrote, or that `JSON.stringify` wrote (an entry
   * of another release). Throwing makes the entry broken: a miss, and it is removed.
   */
  parse(json: string): T;
}

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

/** The default {@linkcode DataCodec}: `JSON.stringify` and `JSON.parse`. */
export const JSON_DATA: DataCodec<unknown> = Object.freeze({
  stringify: (data: unknown) => JSON.stringify(data),
  parse: (json: string) => JSON.parse(json),
});

const ENTRY_HEAD = '{"versionHash":';
const DATA_HEAD = ',"data":';

/**
 * The stored form of an entry, or why there is none: `too_large` (longer than
 * `maxValueBytes` once encoded) or `unencodable` (JSON cannot encode it: a BigInt, a cycle,
 * or `undefined` data). The JSON is `JSON.stringify({ versionHash, data })`'s, with `data`
 * written by `codec`. JSON longer than `limits.offThreadAboveBytes` is deflated by
 * `offThread` (the same bytes, off the event loop). Never rejects.
 */
export async function encodeEntry<T>(
  versionHash: string,
  data: T,
  limits: CodecLimits,
  offThread?: OffThreadDeflate,
  codec: DataCodec<T> = JSON_DATA as DataCodec<T>,
): Promise<{ stored: string } | { refused: "too_large" | "unencodable" }> {
  if (data === undefined || typeof data === "function" || typeof data === "symbol") {
    return { refused: "unencodable" }; // JSON would drop the field
  }
  let json: string;
  try {
    const dataJson = codec.stringify(data);
    if (typeof dataJson !== "string") return { refused: "unencodable" };
    json = ENTRY_HEAD + JSON.stringify(versionHash) + DATA_HEAD + dataJson + "}";
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

/**
 * Parses a stored entry; `undefined` for anything that is not one of ours, or too large.
 * With a `codec` of its own, the entry's `data` is read by it from its text (an entry is
 * `{"versionHash":"…","data":…}`, as `JSON.stringify` writes it); with the default, or an
 * entry in any other layout, the entry is parsed whole with `JSON.parse`, its `data` as it is.
 */
export function decodeEntry<T>(
  raw: string,
  maxValueBytes: number,
  codec: DataCodec<T> = JSON_DATA as DataCodec<T>,
): DecodedEntry<T> | undefined {
  let json: string;
  try {
    json = raw.startsWith(COMPRESSED)
      ? UTF8.decode(inflateRawSync(Buffer.from(raw.slice(COMPRESSED.length), "base64"), {
        maxOutputLength: maxValueBytes,
      }))
      : raw;
  } catch {
    return undefined; // not deflate, or inflating past the limit (RangeError)
  }
  if (json.length > maxValueBytes) return undefined;
  // The default codec parses the whole entry at once (one JSON.parse, the hit path measured in
  // bench/l2_hit_bench.ts); only a codec of its own gets the data's text split out.
  const split = codec === JSON_DATA ? undefined : splitEntry(json);
  try {
    if (split) {
      const entry = { versionHash: split.versionHash, data: codec.parse(split.dataJson) };
      return Object.assign(entry, { jsonLength: json.length });
    }
    const parsed: unknown = JSON.parse(json);
    if (
      typeof parsed !== "object" || parsed === null || Array.isArray(parsed) ||
      typeof (parsed as { versionHash?: unknown }).versionHash !== "string" ||
      !("data" in parsed)
    ) return undefined;
    const entry = parsed as DecodedEntry<T>;
    entry.jsonLength = json.length;
    return entry;
  } catch {
    return undefined; // not JSON, or data the codec cannot read
  }
}

/**
 * `{"versionHash":"<string>","data":<text>}` split into the version hash and the data's
 * text, without parsing the data; `undefined` for any other layout.
 */
function splitEntry(json: string): { versionHash: string; dataJson: string } | undefined {
  if (!json.startsWith(ENTRY_HEAD + '"') || !json.endsWith("}")) return undefined;
  // The version hash's string literal ends at the first quote not escaped by a backslash.
  let end = ENTRY_HEAD.length + 1;
  for (;;) {
    end = json.indexOf('"', end);
    if (end < 0) return undefined;
    let backslashes = 0;
    while (json[end - 1 - backslashes] === "\\") backslashes++;
    if (backslashes % 2 === 0) break;
    end++;
  }
  if (!json.startsWith(DATA_HEAD, end + 1)) return undefined;
  let versionHash: unknown;
  try {
    versionHash = JSON.parse(json.slice(ENTRY_HEAD.length, end + 1));
  } catch {
    return undefined;
  }
  if (typeof versionHash !== "string") return undefined;
  return { versionHash, dataJson: json.slice(end + 1 + DATA_HEAD.length, -1) };
}
