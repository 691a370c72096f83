/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * The worker of {@linkcode OffThreadDeflate}: raw deflate (level 6) of the UTF-8 bytes it is
 * sent, answered as base64 (the stored form of a compressed entry, `_codec.ts`).
 *
 * @module
 */
import { deflateRawSync } from "node:zlib";

/** A job: the entry's JSON as UTF-8 (transferred, not copied). */
interface Job {
  id: number;
  bytes: Uint8Array;
}

self.onmessage = (event: MessageEvent<Job>) => {
  const { id, bytes } = event.data;
  try {
    self.postMessage({ id, base64: deflateRawSync(bytes, { level: 6 }).toString("base64") });
  } catch (error) {
    self.postMessage({ id, error: String(error) });
  }
};
