/**
 * Keys only for things that exist: request parameters that name an entity are checked
 * against the database's allowlists before a cache key is made from them, so an unknown one
 * is a 404 (or a 400) and creates nothing, in Redis or in memory.
 *
 * | parameter                                   | allowlist                                     |
 * | ------------------------------------------- | --------------------------------------------- |
 * | `indicatorId` (`/datasets/hmis/summary`)    | `indicators`, reloaded when the HMIS version changes |
 * | `replicateBy` (`…/replicant_options`)       | the metric's `disaggregation_options`         |
 * | `level`                                     | 2, 3, 4 (the admin-area levels below the state) |
 * | project, presentation object, metric, run   | their version lookup (a 404 when absent)      |
 *
 * The lists are held in memory: an indicator set per HMIS version (a few hundred ids), and
 * the replication options of at most {@linkcode MAX_METRICS_REMEMBERED} metrics (an LRU of
 * metrics that exist: a lookup for one that does not is never remembered).
 *
 * @module
 */
import { LRUCache } from "lru-cache";
import type { Db } from "./db.ts";
import { NotFoundError, ValidationError } from "./model/mod.ts";

/** How many metrics' replication options are remembered. */
export const MAX_METRICS_REMEMBERED = 1000;

/** The allowlists of one database. One per app. */
export class EntityAllowlists {
  readonly #db: Db;
  #indicators: { version: string; ids: Promise<ReadonlySet<string>> } | undefined;
  readonly #replicateBy = new LRUCache<string, Promise<readonly string[] | undefined>>({
    max: MAX_METRICS_REMEMBERED,
  });

  constructor(db: Db) {
    this.#db = db;
  }

  /**
   * Checks an `indicatorId` against the HMIS dataset's indicators.
   *
   * @param hmisVersion The HMIS dataset's version (the list is reloaded when it changes).
   * @throws {NotFoundError} If there is no such indicator.
   */
  async checkIndicator(indicatorId: string, hmisVersion: string): Promise<void> {
    let current = this.#indicators;
    if (current?.version !== hmisVersion) {
      const ids = this.#db.query<{ id: string }>("SELECT indicator_id AS id FROM indicators")
        .then((rows) => new Set(rows.map((row) => row.id)) as ReadonlySet<string>);
      current = this.#indicators = { version: hmisVersion, ids };
      ids.catch(() => {
        if (this.#indicators === current) this.#indicators = undefined; // retry next time
      });
    }
    if (!(await current.ids).has(indicatorId)) throw new NotFoundError("indicator", indicatorId);
  }

  /**
   * Checks a `replicateBy` against the metric's disaggregation options.
   *
   * @param version The metric's version (its module's `last_run`), part of the memo key.
   * @throws {ValidationError} If the metric cannot be replicated by `replicateBy`.
   * @throws {NotFoundError} If the metric does not exist.
   */
  async checkReplicateBy(
    projectId: string,
    metricId: string,
    version: string | null,
    replicateBy: string,
  ): Promise<void> {
    const key = JSON.stringify([projectId, metricId, version]);
    let options = this.#replicateBy.get(key);
    if (!options) {
      options = this.#db.query<{ options: string[] }>(
        `SELECT disaggregation_options AS options FROM metrics
          WHERE project_id = $1 AND metric_id = $2`,
        [projectId, metricId],
      ).then((rows) => rows[0]?.options);
      this.#replicateBy.set(key, options);
      options.then((found) => {
        if (found === undefined) this.#replicateBy.delete(key);
      }, () => this.#replicateBy.delete(key));
    }
    const allowed = await options;
    if (allowed === undefined) throw new NotFoundError("metric", metricId);
    if (!allowed.includes(replicateBy)) {
      throw new ValidationError(
        `Metric '${metricId}' cannot be replicated by '${replicateBy.slice(0, 60)}' (options: ${
          allowed.join(", ")
        })`,
        "replicateBy",
      );
    }
  }
}
