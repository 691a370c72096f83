/**
 * HTTP helpers shared by the routes: serving through a cache with `X-Cache` and
 * `Server-Timing`, parameter validation, and the admin check (from `auth.ts`).
 *
 * @module
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { TimCache } from "../lib/mod.ts";
import { type Cached, envelope } from "./caches.ts";
import { inSpan } from "./observability.ts";

/** The `X-Cache` header of each cache outcome. */
export const X_CACHE = { hit: "HIT", miss: "MISS", bypass: "BYPASS", stale: "STALE" } as const;

/**
 * Serves `producer()`'s body through `cache` with the headers that tell how it was served:
 * `X-Cache: HIT | MISS | BYPASS` (MISS only when this request ran the computation; a
 * request that waited for another's computation is a HIT) and `Server-Timing` with the
 * cache and database durations (W3C Server Timing).
 *
 * @param versionMs Time already spent looking up the version, in ms (counted as db).
 */
export async function serveCached<U, V, B>(
  c: Context,
  cache: TimCache<U, V, Cached<B>>,
  params: U,
  version: V,
  producer: () => Promise<B>,
  versionMs = 0,
): Promise<Response> {
  const name = cache.name;
  const result = await inSpan("cache.get_or_set", { "cache.name": name }, async (span) => {
    const result = await cache.getOrSet(
      params,
      version,
      () =>
        inSpan(
          "cache.fill",
          { "cache.name": name },
          async () => envelope(params, version, await producer()),
        ),
    );
    span.setAttribute("cache.outcome", result.outcome);
    return result;
  });
  c.header("X-Cache", X_CACHE[result.outcome]);
  c.header(
    "Server-Timing",
    `cache;dur=${result.lookupMs.toFixed(1)};desc="${X_CACHE[result.outcome]}", ` +
      `db;dur=${(versionMs + result.computeMs).toFixed(1)}`,
  );
  return c.body(jsonBytes(result.value.body), 200, JSON_HEADERS);
}

const JSON_HEADERS = { "content-type": "application/json" } as const;
const encoder = new TextEncoder();
/**
 * Serialized bodies by the body object they were made from. A hit from the L1 returns the
 * same frozen body object every time, so it is serialized once, not per request (a 33 KiB
 * body cost more to stringify than everything else on the hit path). A body from a Redis
 * read or a computation is a new object: its entry goes when the object does.
 */
const serialized = new WeakMap<object, Uint8Array<ArrayBuffer>>();

/**
 * `body` as UTF-8 JSON bytes, memoized for frozen objects (the L1's; never mutated, so
 * the bytes cannot go stale).
 */
export function jsonBytes(body: unknown): Uint8Array<ArrayBuffer> {
  if (typeof body !== "object" || body === null || !Object.isFrozen(body)) {
    return encoder.encode(JSON.stringify(body));
  }
  let bytes = serialized.get(body);
  if (!bytes) {
    bytes = encoder.encode(JSON.stringify(body));
    serialized.set(body, bytes);
  }
  return bytes;
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
