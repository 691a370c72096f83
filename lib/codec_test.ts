/**
 * The entry codec (`_codec.ts`): the stored JSON is `JSON.stringify({ versionHash, data })`'s,
 * whoever writes the data; a data codec reads back exactly the data's text; anything else is
 * parsed whole or is broken.
 */
import assert from "node:assert/strict";
import { type DataCodec, decodeEntry, encodeEntry } from "./_codec.ts";

const LIMITS = {
  compressAboveBytes: 64,
  offThreadAboveBytes: Infinity,
  maxValueBytes: 1 << 20,
};
const VERSION_HASHES = ["1", 'quo"te', "back\\", "b\\\\", 'x\\"y', "é\u2028😀", ""];

/** Writes the data's text in place and reads it back as `{ text }`, recording what it read. */
function textCodec(seen: string[]): DataCodec<{ text: string }> {
  return {
    stringify: (data) => data.text,
    parse: (json) => {
      seen.push(json);
      return { text: json };
    },
  };
}

Deno.test("the default data codec stores what JSON.stringify({ versionHash, data }) writes", async () => {
  const values: unknown[] = [
    null,
    0,
    "s",
    [1, "two", { three: 3 }],
    { nested: { a: [true, null], 'k"ey': "v\\al" } },
    { big: "x".repeat(500) },
  ];
  for (const versionHash of VERSION_HASHES) {
    for (const data of values) {
      const encoded = await encodeEntry(versionHash, data, { ...LIMITS, compressAboveBytes: 1e9 });
      assert.ok("stored" in encoded);
      assert.equal(encoded.stored, JSON.stringify({ versionHash, data }));
      const compressed = await encodeEntry(versionHash, data, LIMITS);
      for (const raw of [encoded.stored, (compressed as { stored: string }).stored]) {
        const entry = decodeEntry(raw, LIMITS.maxValueBytes);
        assert.deepEqual({ ...entry, jsonLength: undefined }, {
          versionHash,
          data,
          jsonLength: undefined,
        });
      }
    }
  }
});

Deno.test("a data codec reads back exactly the text it wrote, escapes and all", async () => {
  const texts = ['{"a":"x\\"}\\\\"}', "[1,2]", '"str"', "null", '{"v":"' + "y".repeat(300) + '"}'];
  for (const versionHash of VERSION_HASHES) {
    for (const text of texts) {
      const seen: string[] = [];
      const codec = textCodec(seen);
      const encoded = await encodeEntry(versionHash, { text }, LIMITS, undefined, codec);
      assert.ok("stored" in encoded);
      const entry = decodeEntry(encoded.stored, LIMITS.maxValueBytes, codec);
      assert.equal(entry?.versionHash, versionHash);
      assert.deepEqual(entry?.data, { text });
      assert.deepEqual(seen, [text], "parse saw the data's text only");
    }
  }
});

Deno.test("an entry in another layout is parsed whole; one the codec cannot read is broken", () => {
  const seen: string[] = [];
  const codec = textCodec(seen);
  const reversed = JSON.stringify({ data: { text: "t" }, versionHash: "v" });
  assert.deepEqual(decodeEntry(reversed, 1 << 20, codec)?.data, { text: "t" });
  assert.deepEqual(seen, [], "the codec is not asked about another layout");
  const throwing: DataCodec<unknown> = {
    stringify: JSON.stringify,
    parse: () => {
      throw new SyntaxError("not mine");
    },
  };
  assert.equal(decodeEntry('{"versionHash":"v","data":{}}', 1 << 20, throwing), undefined);
  // The default codec parses the whole entry, as before codecs: extra fields are ignored.
  assert.equal(decodeEntry('{"versionHash":"v","data":1,"more":2}', 1 << 20)?.data, 1);
  for (
    const broken of [
      '{"versionHash":"v","data":{}',
      '{"versionHash":"v","dat":{}}',
      '{"versionHash":1,"data":{}}',
      '{"versionHash":"v\\","data":{}}',
      "[]",
      "not json",
    ]
  ) {
    assert.equal(decodeEntry(broken, 1 << 20), undefined, broken);
  }
});
