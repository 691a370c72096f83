/**
 * Fuzzing settings and arbitraries (fast-check) shared by the security suite.
 *
 * - `FUZZ_RUNS` (default 200): cases per property. CI runs the default; a deeper run is
 *   `FUZZ_RUNS=20000 deno task security`.
 * - `FUZZ_SEED`: replays a run (fast-check prints the seed and the path of a failure).
 *
 * Every string an arbitrary here produces for a request carries {@linkcode MARKER}, so a test
 * that records the SQL the server executed can assert that no input ever became SQL text.
 *
 * @module
 */
import fc from "fast-check";

/** Cases per property (`FUZZ_RUNS`). */
export const FUZZ_RUNS = positiveInt(Deno.env.get("FUZZ_RUNS"), 200);

/** The seed of every property (`FUZZ_SEED`), when replaying a failure. */
export const FUZZ_SEED = Deno.env.get("FUZZ_SEED") === undefined
  ? undefined
  : Number(Deno.env.get("FUZZ_SEED"));

/**
 * `fc.assert` parameters: `FUZZ_RUNS` cases (scaled by `share` for expensive properties,
 * at least `min`), the seed when replaying.
 */
export function fuzzParameters<T>(share = 1, min = 10): fc.Parameters<T> {
  return {
    numRuns: Math.max(min, Math.round(FUZZ_RUNS * share)),
    ...(FUZZ_SEED === undefined ? {} : { seed: FUZZ_SEED }),
  };
}

/** Present in every fuzzed string that reaches the server (see the module documentation). */
export const MARKER = "Wbfz7q";

/** One lone UTF-16 surrogate (not encodable as UTF-8). */
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));

/** Characters that separate, glob, escape, quote or traverse somewhere in the stack. */
const NASTY_CHARS = [
  ":",
  "*",
  "?",
  "[",
  "]",
  "{",
  "}",
  "\\",
  "/",
  ".",
  "..",
  "%",
  "%2F",
  "%00",
  "%25",
  "%ZZ",
  "'",
  '"',
  ";",
  "--",
  ",",
  "$1",
  "\u0000",
  "\n",
  "\r\n",
  "\t",
  " ",
  "#",
  "&",
  "=",
  "+",
  "\u202e",
  "\ufeff",
  "é",
  "😀",
];

/** Strings written to break SQL, globs, separators and paths. */
const NASTY_WORDS = [
  "'; DROP TABLE users; --",
  '" OR 1=1 --',
  "count) FROM pg_user --",
  "1; SELECT pg_sleep(5)",
  "$$",
  "E'\\x00'",
  "../../etc/passwd",
  "..%2F..%2Fetc%2Fpasswd",
  "%2e%2e%2f",
  "cache:*",
  "po_items:*",
  "a*b?c[d]",
  "\\*",
  "__proto__",
  "constructor",
  "null",
  "undefined",
  "NaN",
  "-1",
  "1e309",
  "0x10",
  "SUM",
  "count",
  "indicator_id",
];

/** A hostile string: unicode, control and lone surrogates, separators, SQL-ish words. */
export const nastyString: fc.Arbitrary<string> = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...NASTY_CHARS) },
    { weight: 2, arbitrary: fc.constantFrom(...NASTY_WORDS) },
    { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 4 }) },
    { weight: 2, arbitrary: fc.string({ unit: "binary-ascii", maxLength: 4 }) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 3 }) },
    { weight: 1, arbitrary: loneSurrogate },
    { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/) },
  ),
  { maxLength: 6 },
).map((parts) => parts.join(""));

/** A hostile string that contains {@linkcode MARKER} somewhere. */
export const markedString: fc.Arbitrary<string> = fc.tuple(nastyString, nastyString).map((
  [before, after],
) => `${before}${MARKER}${after}`);

/** An identifier-shaped string (letters, digits, `_`, `-`) that carries the marker. */
export const markedId: fc.Arbitrary<string> = fc.stringMatching(/^[A-Za-z0-9_-]{0,20}$/).map((
  s,
) => `${s}${MARKER}`);

/** Marked hostile strings, and some marked ids that pass every id check. */
export const fuzzText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: markedString },
  { weight: 1, arbitrary: markedId },
);

/**
 * How a string goes into a URL: percent-encoded, or as it is (the URL parser then encodes
 * what it must and cuts at `?` and `#`), or with `%` sequences left for the server to decode.
 */
export const urlEncoding: fc.Arbitrary<(text: string) => string> = fc.constantFrom(
  (text: string) => encodeURIComponent(text.replace(/[\ud800-\udfff]/g, "\ufffd")),
  (text: string) => text,
  (text: string) => text.replace(/[^A-Za-z0-9_~.%:*?[\]@!$&'()+,;=-]/g, (c) => encodeUtf8(c)),
);

function encodeUtf8(c: string): string {
  try {
    return encodeURIComponent(c);
  } catch {
    return "%ED%A0%80"; // a lone surrogate: its (invalid) UTF-8 bytes, as a client might send
  }
}

function positiveInt(text: string | undefined, fallback: number): number {
  if (text === undefined || text.trim() === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`FUZZ_RUNS must be a positive integer, got '${text}'`);
  }
  return value;
}
