/**
 * `GET /api/projects/:projectId/items?poIds=a,b,c`: the items of several presentation
 * objects in one request, read with `getMany` (one MGET for the details, one for the
 * items; misses filled through the normal single-flight path).
 *
 * Each entry carries its own `xCache`; the response's `X-Cache` is `MISS` when any entry
 * was computed here, else `BYPASS` when any was served without a cache, else `HIT`.
 *
 * @module
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { CacheResult } from "../../lib/mod.ts";
import { type Cached, envelope, type ServerCaches } from "../caches.ts";
import type { Db } from "../db.ts";
import { idParam, since, X_CACHE } from "../http.ts";
import {
  fetchPoItemsBody,
  getPresentationObject,
  NotFoundError,
  type PoDetail,
  type PoItemsBody,
} from "../model/mod.ts";
import { jsonWithFields } from "../raw_json.ts";
import type { VersionSource } from "../versions.ts";

/** Most presentation objects one batch may ask for. */
export const MAX_BATCH = 100;

const ID = /^[A-Za-z0-9_-]{1,64}$/;

/** What the batch route needs. */
export interface BatchRoutesDeps {
  db: Db;
  /**
   * The database of the cold computations (the aggregates a miss computes): `db` bounded
   * to `FILL_CONCURRENCY` statements at once (`bounded_db.ts`).
   */
  computeDb: Db;
  caches: ServerCaches;
  /** Where versions come from (the version table, or a query per request). */
  versions: VersionSource;
}

/** Routes under `/api/projects`. */
export function batchRoutes({ db, computeDb, caches, versions: source }: BatchRoutesDeps): Hono {
  const app = new Hono();
  app.get("/:projectId/items", async (c) => {
    const projectId = idParam(c, "projectId");
    const poIds = [
      ...new Set((c.req.query("poIds") ?? "").split(",").map((s) => s.trim()).filter(Boolean)),
    ];
    if (poIds.length === 0 || poIds.length > MAX_BATCH || !poIds.every((id) => ID.test(id))) {
      throw new HTTPException(400, {
        message:
          `'poIds' must list 1-${MAX_BATCH} presentation object ids (letters, digits, '_', '-'), comma-separated`,
      });
    }
    const started = performance.now();
    const versions = await source.poVersionsMany(projectId, poIds);
    const found = poIds.filter((id) => versions.has(id));
    const details = await caches.poDetail.getMany(
      found.map((poId) => ({
        params: { projectId, poId },
        version: { lastUpdated: versions.get(poId)!.lastUpdated },
      })),
      async (params, index) => {
        const detail = await getPresentationObject(db, projectId, params.poId);
        if (!detail) throw new NotFoundError("presentation object", params.poId);
        return envelope(params, { lastUpdated: versions.get(found[index])!.lastUpdated }, detail);
      },
    );
    const itemRequests = found.map((poId, i) => {
      const detail = details[i].value.body as PoDetail;
      return {
        params: { projectId, resultsObjectId: detail.resultsObjectId, fetch: detail.config.fetch },
        version: { lastRun: versions.get(poId)!.lastRun },
        detail,
      };
    });
    const items: CacheResult<Cached<PoItemsBody>>[] = await caches.poItems.getMany(
      itemRequests,
      async (params, index) =>
        envelope(
          params,
          itemRequests[index].version,
          await fetchPoItemsBody(computeDb, itemRequests[index].detail),
        ),
    );
    const byId = new Map(found.map((poId, i) => [poId, items[i]]));
    const outcomes = new Set(items.map((r) => r.outcome));
    c.header("X-Cache", outcomes.has("miss") ? "MISS" : outcomes.has("bypass") ? "BYPASS" : "HIT");
    c.header("Server-Timing", `total;dur=${since(started).toFixed(1)}`);
    // Each entry's body is spliced in as its JSON text (an `ok` answer is Postgres's text,
    // never parsed here).
    const entries = poIds.map((poId) => {
      const result = byId.get(poId);
      if (!result) {
        return JSON.stringify(
          { poId, error: "not_found", message: `No presentation object '${poId}'` },
        );
      }
      return jsonWithFields({ poId, xCache: X_CACHE[result.outcome] }, result.value.body);
    });
    return c.body(`{"items":[${entries.join(",")}]}`, 200, {
      "content-type": "application/json",
    });
  });
  return app;
}
