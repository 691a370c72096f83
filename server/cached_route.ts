/**
 * `cachedRoute`: the one shape of every cached `GET` route (`po_detail`, `po_items`,
 * `metric_info`, `replicant_opts`, `ds_hmis`, `ds_hfa`). A route says how a request becomes
 * the cache's params, version and producer (parsing and checking its parameters, its
 * version from the {@linkcode VersionSource}, a 400 or 404 before any key is made); the
 * factory reads the cache and answers.
 *
 * The answer of a hit is the cached bytes as they are: the body is serialized once per
 * cached object (`jsonBytes`, an L1 hit returns the same frozen object every time), and the
 * `Response` is built here (no `Headers` copied through Hono's context), already carrying
 * the headers `app.ts` would add (`nosniff`, `Cache-Control: private, no-store`).
 *
 * Headers of every answer:
 * - `X-Cache: HIT | MISS | BYPASS | STALE` (MISS only when this request ran the computation;
 *   a request that waited for another's computation is a HIT);
 * - `Server-Timing: cache;dur=…;desc="…", db;dur=…` (W3C Server Timing): the cache lookup,
 *   and the version lookup plus the computation, in ms.
 *
 * @module
 */
import type { Context, Handler } from "hono";
import type { TimCache } from "../lib/mod.ts";
import { type Cached, envelope } from "./caches.ts";
import { appendCachedHeaders, COMPLETE_HEADERS, jsonBytes, since, X_CACHE } from "./http.ts";
import { inSpan, tracing } from "./observability.ts";

const JSON_TYPE = { "content-type": "application/json" } as const;

/** What a request asks a cached route for. */
export interface CachedRequest<U, V, B> {
  /** The cache's params (its uniqueness key). */
  params: U;
  /** The cache's version params. */
  version: V;
  /** Computes the body on a miss (from Postgres). */
  produce: () => Promise<B>;
}

/** What {@linkcode cachedRoute} needs. */
export interface CachedRouteSpec<U, V, B> {
  /** The cache the route reads through. */
  cache: TimCache<U, V, Cached<B>>;
  /**
   * The request's params, version and producer. Throws what the route answers instead:
   * `HTTPException` 400 for a bad parameter, `NotFoundError` (404) for an unknown entity.
   * The time it takes is reported as `db` in `Server-Timing` (it is the version lookup).
   */
  resolve(c: Context): Promise<CachedRequest<U, V, B>>;
}

/**
 * A handler serving `spec.cache` for the requests `spec.resolve` describes, with `X-Cache`
 * and `Server-Timing` (see the module documentation).
 *
 * @example
 * ```ts
 * app.get("/datasets/hfa/summary", cachedRoute({
 *   cache: caches.dsHfa,
 *   resolve: async () => {
 *     const version = { version: await versions.datasetVersion("hfa") };
 *     return { params: {}, version, produce: () => getHfaDatasetSummary(db) };
 *   },
 * }));
 * ```
 */
export function cachedRoute<U, V, B>(spec: CachedRouteSpec<U, V, B>): Handler {
  const { cache } = spec;
  const attributes = { "cache.name": cache.name };
  return async (c) => {
    const started = performance.now();
    const { params, version, produce } = await spec.resolve(c);
    const versionMs = since(started);
    const fill = () =>
      inSpan("cache.fill", attributes, async () => envelope(params, version, await produce()));
    // Without a tracer the lookup runs without the span's closure (it would record nothing).
    const result = tracing()
      ? await inSpan("cache.get_or_set", attributes, async (span) => {
        const result = await cache.getOrSet(params, version, fill);
        span.setAttribute("cache.outcome", result.outcome);
        return result;
      })
      : await cache.getOrSet(params, version, fill);
    const outcome = X_CACHE[result.outcome];
    // One header in the constructor, the others appended: Deno converts a header record of
    // several entries far more slowly (about 6.6 µs for these five, 2.5 µs this way).
    const response = new Response(jsonBytes(result.value.body), {
      status: 200,
      headers: JSON_TYPE,
    });
    appendCachedHeaders(
      response.headers,
      outcome,
      result.lookupMs,
      versionMs + result.computeMs,
    );
    COMPLETE_HEADERS.add(response);
    return response;
  };
}
