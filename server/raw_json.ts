/**
 * Bodies serialized once, where they are computed: a large answer (a national
 * presentation object's items: about 19,000 rows, 1.3 MB of JSON) is built as JSON text by
 * Postgres (`row_to_json`) and kept as that text from the query to the socket. The cache
 * entry holds the text in place ({@linkcode RAW_BODY_ENVELOPE}), an L1 holds one string
 * instead of thousands of row objects, and neither a computation nor a hit from Redis turns
 * it into objects and back: on this machine that round trip (rows decoded, frozen,
 * stringified for the entry and again for the answer) held the event loop for tens of
 * milliseconds per national computation, which every cached hit on the instance waited
 * behind (docs/performance.md, "A cached hit under cold queries").
 *
 * @module
 */
import type { DataCodec } from "../lib/mod.ts";

/**
 * A body as its JSON text (`{"$json": "<text>"}`, itself a plain JSON value wherever a
 * cache without {@linkcode RAW_BODY_ENVELOPE} keeps it). The text is trusted to be one JSON
 * object: it comes from Postgres's JSON functions or from an entry this server wrote, never
 * from a request.
 */
export interface RawJson {
  readonly $json: string;
}

/** Wraps JSON text that is already a valid JSON document. */
export function rawJson(text: string): RawJson {
  return { $json: text };
}

/** Whether a body is a {@linkcode RawJson} (an object whose `$json` is a string). */
export function isRawJson(body: unknown): body is RawJson {
  return typeof body === "object" && body !== null &&
    typeof (body as { $json?: unknown }).$json === "string";
}

/** An envelope as the route caches hold it (see `server/caches.ts`). */
interface Envelope {
  uniquenessHash: string;
  versionHash: string;
  body: unknown;
}

const RAW_ENVELOPE_HEAD =
  /^\{"uniquenessHash":("(?:[^"\\]|\\.)*"),"versionHash":("(?:[^"\\]|\\.)*"),"body":/;

/**
 * The data codec of a cache whose bodies are only ever sent (`po_items`): an envelope is
 * written as `JSON.stringify` writes it, except that a {@linkcode RawJson} body's text goes
 * in place, unescaped (the same bytes as the body stored as objects); every envelope is
 * read back with its body as text ({@linkcode RawJson}: sliced out, not parsed), entries
 * written before bodies were JSON text included. On a 1.3 MB national body that saves a
 * write the escaping of every quote and a read the parse. An entry in another shape, or
 * whose body is not a JSON object's text, is parsed whole.
 */
export const RAW_BODY_ENVELOPE: DataCodec<Envelope> = Object.freeze({
  stringify(data: Envelope): string {
    if (!isRawJson(data.body)) return JSON.stringify(data);
    return `{"uniquenessHash":${JSON.stringify(data.uniquenessHash)},"versionHash":${
      JSON.stringify(data.versionHash)
    },"body":${data.body.$json}}`;
  },
  parse(json: string): Envelope {
    const head = RAW_ENVELOPE_HEAD.exec(json);
    if (head && json.endsWith("}}") && json[head[0].length] === "{") {
      return {
        uniquenessHash: JSON.parse(head[1]),
        versionHash: JSON.parse(head[2]),
        body: rawJson(json.slice(head[0].length, -1)),
      };
    }
    return JSON.parse(json);
  },
});

/** The body as a value: {@linkcode RawJson} parsed, anything else as it is. */
export function bodyValue<T>(body: T | RawJson): T {
  return isRawJson(body) ? JSON.parse(body.$json) as T : body;
}

/**
 * The JSON text of an object body with `fields` first (`{...fields, ...body}`), without
 * parsing a {@linkcode RawJson} body: its text is spliced after the fields.
 *
 * @throws {TypeError} If a raw body's text is not a JSON object.
 */
export function jsonWithFields(fields: Record<string, unknown>, body: unknown): string {
  if (!isRawJson(body)) return JSON.stringify({ ...fields, ...(body as object) });
  const text = body.$json.trimStart();
  if (!text.startsWith("{")) throw new TypeError("A raw JSON body with fields must be an object");
  const head = JSON.stringify(fields);
  if (head === "{}") return text;
  const rest = text.slice(1).trimStart();
  return rest.startsWith("}") ? head : `${head.slice(0, -1)},${rest}`;
}
