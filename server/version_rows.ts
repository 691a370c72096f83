/**
 * The rows of the version table: the key and version columns of the versioned tables, held
 * in maps, loaded from one snapshot ({@linkcode VersionRows.SNAPSHOT}) and kept current by
 * the changes of migration `005_version_notify.sql`. The listener that feeds them, and when
 * they may be trusted, is `version_table.ts`.
 *
 * @module
 */
import type { DatasetId } from "./model/mod.ts";
import type { PoVersions } from "./versions.ts";

/** A change as the triggers send it (`old`/`new`: key and version columns). */
export interface VersionChange {
  t?: string;
  op?: string;
  old?: Record<string, unknown> | null;
  new?: Record<string, unknown> | null;
  /** A `settle()` marker (sent by a server process through its pool). */
  sync?: string;
}

interface PoRow {
  projectId: string;
  metricId: string;
  lastUpdated: string;
}
interface MetricRow {
  projectId: string;
  resultsObjectId: string;
}
interface ResultsObjectRow {
  projectId: string;
  moduleId: string;
}

const moduleKey = (projectId: string, moduleId: string) => `${projectId}\u0000${moduleId}`;

/** The versioned rows, in memory. */
export class VersionRows {
  /**
   * The queries of one full load, run in one repeatable-read snapshot, in the order
   * {@linkcode VersionRows.replace} takes their results.
   */
  static readonly SNAPSHOT: readonly string[] = Object.freeze([
    `SELECT po_id, project_id, metric_id, iso_ts(last_updated) AS last_updated
       FROM presentation_objects`,
    "SELECT metric_id, project_id, results_object_id FROM metrics",
    "SELECT results_object_id, project_id, module_id FROM results_objects",
    "SELECT project_id, module_id, iso_ts(last_run) AS last_run FROM modules",
    "SELECT dataset_id, version::text AS version FROM dataset_versions",
    "SELECT coalesce(max(version), 0)::text AS version FROM structure_meta",
  ]);

  #pos = new Map<string, PoRow>();
  #metrics = new Map<string, MetricRow>();
  #resultsObjects = new Map<string, ResultsObjectRow>();
  #modules = new Map<string, string | null>();
  #datasets = new Map<string, string>();
  #structure = "0";

  /** Presentation objects and modules held (for the log). */
  get sizes(): { presentationObjects: number; modules: number } {
    return { presentationObjects: this.#pos.size, modules: this.#modules.size };
  }

  /** Replaces every row with the results of {@linkcode VersionRows.SNAPSHOT}, in order. */
  replace(results: readonly Record<string, string | null>[][]): void {
    const [pos, metrics, ros, modules, datasets, structure] = results;
    this.#pos = new Map(pos.map((r) => [r.po_id!, poRow(r)]));
    this.#metrics = new Map(metrics.map((r) => [r.metric_id!, metricRow(r)]));
    this.#resultsObjects = new Map(ros.map((r) => [r.results_object_id!, roRow(r)]));
    this.#modules = new Map(
      modules.map((r) => [moduleKey(r.project_id!, r.module_id!), r.last_run]),
    );
    this.#datasets = new Map(datasets.map((r) => [r.dataset_id!, r.version!]));
    this.#structure = structure[0]?.version ?? "0";
  }

  /**
   * Applies one change.
   *
   * @returns Why the rows must be loaded again (a `TRUNCATE`, an unknown table), or
   *   `undefined` when the change was applied.
   */
  apply(change: VersionChange): string | undefined {
    if (change.op === "TRUNCATE") return `TRUNCATE ${change.t}`;
    const before = change.old ?? undefined;
    const after = change.new ?? undefined;
    const text = (r: Record<string, unknown>, k: string) => r[k] === null ? null : String(r[k]);
    switch (change.t) {
      case "presentation_objects":
        if (before) this.#pos.delete(String(before.po_id));
        if (after) this.#pos.set(String(after.po_id), poRow(after));
        return;
      case "metrics":
        if (before) this.#metrics.delete(String(before.metric_id));
        if (after) this.#metrics.set(String(after.metric_id), metricRow(after));
        return;
      case "results_objects":
        if (before) this.#resultsObjects.delete(String(before.results_object_id));
        if (after) this.#resultsObjects.set(String(after.results_object_id), roRow(after));
        return;
      case "modules":
        if (before) {
          this.#modules.delete(moduleKey(String(before.project_id), String(before.module_id)));
        }
        if (after) {
          this.#modules.set(
            moduleKey(String(after.project_id), String(after.module_id)),
            text(after, "last_run"),
          );
        }
        return;
      case "dataset_versions":
        if (before) this.#datasets.delete(String(before.dataset_id));
        if (after) this.#datasets.set(String(after.dataset_id), String(after.version));
        return;
      case "structure_meta":
        if (before) this.#structure = "0";
        if (after) this.#structure = String(after.version);
        return;
      default:
        return `unknown table ${String(change.t).slice(0, 60)}`;
    }
  }

  /** A presentation object's versions, or `undefined` when a row of its chain is missing. */
  po(projectId: string, poId: string): PoVersions | undefined {
    const po = this.#pos.get(poId);
    if (!po || po.projectId !== projectId) return undefined;
    // The same joins as poVersionsMany's query: po -> metric -> results object -> module.
    const metric = this.#metrics.get(po.metricId);
    if (!metric) return undefined;
    const lastRun = this.#lastRunOf(metric.resultsObjectId);
    if (lastRun === undefined) return undefined;
    return { lastUpdated: po.lastUpdated, lastRun };
  }

  /** A metric's module's `last_run`, or `undefined` when a row of its chain is missing. */
  metric(projectId: string, metricId: string): { lastRun: string | null } | undefined {
    const metric = this.#metrics.get(metricId);
    if (!metric || metric.projectId !== projectId) return undefined;
    const lastRun = this.#lastRunOf(metric.resultsObjectId);
    return lastRun === undefined ? undefined : { lastRun };
  }

  /** A dataset's import version as text (`"0"` before the first import). */
  dataset(datasetId: DatasetId): string {
    return this.#datasets.get(datasetId) ?? "0";
  }

  /** The structure's import version as text (`"0"` before the first import). */
  get structure(): string {
    return this.#structure;
  }

  /** The `last_run` of a results object's module; `undefined` when either is missing. */
  #lastRunOf(resultsObjectId: string): string | null | undefined {
    const ro = this.#resultsObjects.get(resultsObjectId);
    if (!ro) return undefined;
    const key = moduleKey(ro.projectId, ro.moduleId);
    return this.#modules.has(key) ? this.#modules.get(key)! : undefined;
  }
}

function poRow(r: Record<string, unknown>): PoRow {
  return {
    projectId: String(r.project_id),
    metricId: String(r.metric_id),
    lastUpdated: String(r.last_updated),
  };
}

function metricRow(r: Record<string, unknown>): MetricRow {
  return { projectId: String(r.project_id), resultsObjectId: String(r.results_object_id) };
}

function roRow(r: Record<string, unknown>): ResultsObjectRow {
  return { projectId: String(r.project_id), moduleId: String(r.module_id) };
}
