/**
 * HTTP helpers shared by the routes: the `X-Cache` values and the cached bodies' bytes (for
 * `cached_route.ts`), parameter validation, and JSON request bodies.
 *
 * @module
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { isRawJson } from "./raw_json.ts";

/** The `X-Cache` header of each cache outcome. */
export const X_CACHE = { hit: "HIT", miss: "MISS", bypass: "BYPASS", stale: "STALE" } as const;

const encoder = new TextEncoder();
/**
 * Serialized bodies by the body object they were made from. A hit from the L1 returns the
 * same frozen body object every time, so it is serialized once, not per request (a 33 KiB
 * body cost more to stringify than everything else on the hit path). A body from a Redis
 * read or a computation is a new object: its entry goes when the object does.
 */
const serialized = new WeakMap<object, Uint8Array<ArrayBuffer>>();

/**
 * `body` as UTF-8 JSON bytes (a `RawJson` body's text as it is), memoized for
 * frozen objects (the L1's; never mutated, so the bytes cannot go stale).
 */
export function jsonBytes(body: unknown): Uint8Array<ArrayBuffer> {
  if (typeof body !== "object" || body === null || !Object.isFrozen(body)) {
    return encoder.encode(jsonText(body));
  }
  let bytes = serialized.get(body);
  if (!bytes) {
    bytes = encoder.encode(jsonText(body));
    serialized.set(body, bytes);
  }
  return bytes;
}

function jsonText(body: unknown): string {
  return isRawJson(body) ? body.$json : JSON.stringify(body);
}

/**
 * Responses built with every header the app adds to a JSON answer (`nosniff`,
 * `Cache-Control`): the app's header middleware leaves them as they are instead of looking
 * the headers up again (`cached_route.ts` builds its answers so).
 */
export const COMPLETE_HEADERS: WeakSet<Response> = new WeakSet();

/**
 * Appends the headers of a cached answer to `headers` (a JSON `Response`'s, built with its
 * `content-type`): `nosniff` and `Cache-Control` (what `app.ts` adds to every JSON answer),
 * `X-Cache: <outcome>` and `Server-Timing: cache;dur=…;desc="<outcome>", db;dur=…` (ms, one
 * decimal). Appended, not set: `append` skips the search for an existing header of the name.
 */
export function appendCachedHeaders(
  headers: Headers,
  outcome: string,
  cacheMs: number,
  dbMs: number,
): void {
  headers.append("x-content-type-options", "nosniff");
  headers.append("cache-control", "private, no-store");
  headers.append("x-cache", outcome);
  headers.append(
    "server-timing",
    `cache;dur=${cacheMs.toFixed(1)};desc="${outcome}", db;dur=${dbMs.toFixed(1)}`,
  );
}

/** Milliseconds since `start` (a `performance.now()` reading). */
export function since(start: number): number {
  return performance.now() - start;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * A route parameter that must be an identifier (letters, digits, `_`, `-`; 1-64 chars).
 *
 * @throws {HTTPException} 400 naming the parameter.
 */
export function idParam(c: Context, name: string): string {
  const value = c.req.param(name);
  if (!value || !ID.test(value)) {
    throw new HTTPException(400, {
      message: `'${name}' must be 1-64 letters, digits, '_' or '-'`,
    });
  }
  return value;
}

/**
 * The JSON body of a request.
 *
 * @throws {HTTPException} 400 when it is not valid JSON or not an object.
 */
export async function jsonObjectBody(c: Context): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new HTTPException(400, { message: "The request body must be valid JSON" });
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HTTPException(400, { message: "The request body must be a JSON object" });
  }
  return body as Record<string, unknown>;
}

// Credentials are checked in one place (server/auth.ts); re-exported for the routes.
