/**
 * Reading and writing cache entries behind the server's back: the suite's own decoder of
 * the stored form (`{"versionHash","data"}` JSON, or `z1:` + deflate-raw base64), written
 * from the format's description rather than imported, and a short-lived node-redis client.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { inflateRawSync } from "node:zlib";
import { createClient, type RedisClientType } from "redis";

/** A decoded entry: the server's envelope under `data`. */
export interface StoredEntry {
  versionHash: string;
  data: { uniquenessHash?: string; versionHash?: string; body?: unknown };
}

/** Decodes a stored value; `undefined` when it is not a well-formed entry. */
export function decodeStored(raw: string): StoredEntry | undefined {
  try {
    const json = raw.startsWith("z1:")
      ? inflateRawSync(Buffer.from(raw.slice(3), "base64")).toString()
      : raw;
    const parsed = JSON.parse(json);
    if (typeof parsed?.versionHash !== "string" || !("data" in parsed)) return undefined;
    return parsed as StoredEntry;
  } catch {
    return undefined;
  }
}

/** A plain node-redis client (one node, RESP2). */
export type DataClient = RedisClientType;

/** Runs `fn` with a connected client of `url`, closed afterwards. */
export async function withClient<R>(
  url: string,
  fn: (client: DataClient) => Promise<R>,
): Promise<R> {
  const client = createClient({ url }) as unknown as DataClient;
  client.on("error", () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    client.destroy();
  }
}

/**
 * Checks that `key` holds a well-formed entry of its own: a string that decodes, whose
 * envelope names the key's own uniqueness hash.
 *
 * @returns A phrase saying what is wrong, or `undefined` when it is fine.
 */
export async function entryProblem(client: DataClient, key: string): Promise<string | undefined> {
  const type = await client.type(key);
  if (type === "none") return `${key} is missing`;
  if (type !== "string") return `${key} is a ${type}`;
  const raw = await client.get(key);
  const entry = raw === null ? undefined : decodeStored(raw);
  if (!entry) return `${key} does not decode (${String(raw).slice(0, 40)}…)`;
  const hash = key.slice(key.lastIndexOf(":") + 1);
  if (entry.data?.uniquenessHash !== hash) return `${key} holds the entry of another key`;
  const body = JSON.stringify(entry.data?.body ?? null);
  if (/database_unavailable|"error"/.test(body)) {
    return `${key} holds an error: ${body.slice(0, 80)}`;
  }
  return undefined;
}
