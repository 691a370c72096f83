/**
 * Bodies serialized once, where they are computed: a large answer (a national
 * presentation object's items: about 19,000 rows, 1.3 MB of JSON) is built as JSON text by
 * Postgres (`row_to_json`) and kept as that text from the query to the socket. The cache
 * stores it as a string inside its entry, an L1 holds one string instead of thousands of
 * row objects, and neither a computation nor a hit from Redis turns it into objects and
 * back: on this machine that round trip (rows decoded, frozen, stringified for the entry and
 * again for the answer) held the event loop for tens of milliseconds per national
 * computation, which every cached hit on the instance waited behind
 * (docs/performance.md, "A cached hit under cold queries").
 *
 * @module
 */

/**
 * A body as its JSON text. A plain JSON value (`{"$json": "<text>"}`), so a cache entry
 * holds it as it is; the text is trusted to be JSON (it comes from Postgres's JSON
 * functions, never from a request).
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
