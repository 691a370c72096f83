/**
 * `keySlot()`: the Redis Cluster hash slot of a key, as the server computes it.
 *
 * CRC16 (XMODEM: polynomial 0x1021, initial value 0) of the key's UTF-8 bytes, modulo
 * 16384, where only the hash tag is hashed when the key has one: the bytes between the
 * first `{` and the first `}` after it, if there is at least one byte between them
 * (Redis Cluster specification, "Hash tags"; `keyHashSlot()` in Redis's `cluster.c`).
 * An empty tag (`{}`) hashes the whole key, as Redis does (the `cluster-key-slot` npm
 * package 1.1.2 gets that case wrong, hence this file).
 *
 * @module
 */

/** Number of hash slots of a Redis Cluster. */
export const CLUSTER_SLOTS = 16384;

const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[i] = crc & 0xffff;
  }
  return table;
})();

const encoder = new TextEncoder();

/**
 * The hash slot (0 to 16383) Redis Cluster stores `key` in.
 *
 * @param key A Redis key.
 * @returns Its slot, equal to `CLUSTER KEYSLOT <key>`.
 * @example Keys sharing a hash tag share a slot
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(keySlot("{cache:po:1}:lock"), keySlot("cache:po:1"));
 * assert.equal(keySlot("foo"), 12182);
 * ```
 */
export function keySlot(key: string): number {
  const bytes = encoder.encode(key);
  let start = 0;
  let end = bytes.length;
  const open = bytes.indexOf(0x7b); // {
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1); // }
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ bytes[i]) & 0xff];
  }
  return crc & (CLUSTER_SLOTS - 1);
}
