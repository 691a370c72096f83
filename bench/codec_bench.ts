/**
 * Compression codecs available without native downloads (Deno's built-in node:zlib),
 * measured on real presentation-object items (the demo's largest) and a synthetic 1 MB
 * items payload: compressed size, compress and decompress time. Prints a table.
 *
 * @module
 */
import * as zlib from "node:zlib";
import { markdownTable, mean, ms } from "./stats.ts";
import { itemsPayload } from "./cache_get_bench.ts";

type Codec = {
  name: string;
  compress(b: Uint8Array): Uint8Array;
  decompress(b: Uint8Array): Uint8Array;
};

/** The codecs node:zlib offers in this Deno. */
export function codecs(): Codec[] {
  const list: Codec[] = [
    {
      name: "deflate-raw level 1",
      compress: (b) => zlib.deflateRawSync(b, { level: 1 }),
      decompress: (b) => zlib.inflateRawSync(b),
    },
    {
      name: "deflate-raw level 6",
      compress: (b) => zlib.deflateRawSync(b, { level: 6 }),
      decompress: (b) => zlib.inflateRawSync(b),
    },
    {
      name: "gzip level 6",
      compress: (b) => zlib.gzipSync(b),
      decompress: (b) => zlib.gunzipSync(b),
    },
    {
      name: "brotli quality 4",
      compress: (b) =>
        zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } }),
      decompress: (b) => zlib.brotliDecompressSync(b),
    },
    {
      name: "brotli quality 6",
      compress: (b) =>
        zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 6 } }),
      decompress: (b) => zlib.brotliDecompressSync(b),
    },
  ];
  // deno-lint-ignore no-explicit-any
  const z = zlib as any;
  if (typeof z.zstdCompressSync === "function") {
    list.push({
      name: "zstd level 3",
      compress: (b) => z.zstdCompressSync(b),
      decompress: (b) => z.zstdDecompressSync(b),
    });
  }
  return list;
}

/** Measures every codec on `json`. */
export function measureCodecs(json: string, rounds = 30) {
  const input = new TextEncoder().encode(json);
  return codecs().map((codec) => {
    const packed = codec.compress(input);
    const c: number[] = [];
    const d: number[] = [];
    for (let i = 0; i < rounds; i++) {
      let t = performance.now();
      codec.compress(input);
      c.push(performance.now() - t);
      t = performance.now();
      codec.decompress(packed);
      d.push(performance.now() - t);
    }
    return {
      codec: codec.name,
      bytes: input.length,
      packed: packed.length,
      compressMs: mean(c),
      decompressMs: mean(d),
    };
  });
}

if (import.meta.main) {
  const samples: [string, string][] = [[
    "synthetic items, 50 KB",
    JSON.stringify(itemsPayload(50 * 1024)),
  ], [
    "synthetic items, 1 MB",
    JSON.stringify(itemsPayload(1024 * 1024)),
  ]];
  if (Deno.args[0]) {
    samples.unshift([`real PO items (${Deno.args[0]})`, await Deno.readTextFile(Deno.args[0])]);
  }
  for (const [label, json] of samples) {
    console.log(`\n### ${label}\n`);
    console.log(markdownTable([
      ["codec", "bytes", "compressed", "ratio", "compress", "decompress"],
      ...measureCodecs(json).map((r) => [
        r.codec,
        r.bytes,
        r.packed,
        `${(r.bytes / r.packed).toFixed(1)}x`,
        ms(r.compressMs),
        ms(r.decompressMs),
      ]),
    ]));
  }
}
