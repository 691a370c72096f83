/**
 * `GET /api/labels`: the label dictionary (`model/labels.ts`) every chart, legend, table and
 * title of the web client names things by. It changes only when the HMIS dataset is
 * imported: kept in this process for the dataset's version (its version from the version table,
 * or one primary-key lookup per request), and `ETag`ged by that version so a browser revalidates it for nothing.
 *
 * @module
 */
import { Hono } from "hono";
import type { Db } from "../db.ts";
import { getLabels, type Labels } from "../model/mod.ts";
import type { VersionSource } from "../versions.ts";

/** What the label route needs. */
export interface LabelRoutesDeps {
  db: Db;
  /** Where the HMIS version comes from (the version table, or a query per request). */
  versions: VersionSource;
}

/** Routes under `/api`: `/labels`. */
export function labelRoutes({ db, versions }: LabelRoutesDeps): Hono {
  const app = new Hono();
  /** The dictionary of the last version asked for (and its computation, shared). */
  let current: { version: string; labels: Promise<Labels> } | undefined;
  app.get("/labels", async (c) => {
    const version = await versions.datasetVersion("hmis");
    const etag = `"labels-${version}"`;
    c.header("ETag", etag);
    c.header("Cache-Control", "private, no-cache");
    if (c.req.header("if-none-match") === etag) return c.body(null, 304);
    if (current?.version !== version) {
      const labels = getLabels(db, version);
      current = { version, labels };
      labels.catch(() => {
        if (current?.labels === labels) current = undefined;
      });
    }
    return c.json(await current.labels);
  });
  return app;
}
