/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * The worker of `OffThreadDeflate`: raw deflate (level 6) of the UTF-8 of the JSON it is
 * sent, answered as base64 (the stored form of a compressed entry, `_codec.ts`).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { deflateRawSync } from "node:zlib";

/** A job: an entry's JSON. */
interface Job {
  id: number;
  json: string;
}

self.onmessage = (event: MessageEvent<Job>) => {
  const { id, json } = event.data;
  try {
    const bytes = Buffer.from(json);
    self.postMessage({ id, base64: deflateRawSync(bytes, { level: 6 }).toString("base64") });
  } catch (error) {
    self.postMessage({ id, error: String(error) });
  }
};
