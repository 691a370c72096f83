/**
 * Presentation objects: a labelled, configured view of one metric.
 *
 * @module
 */

import type { Db } from "../db.ts";
import type { PoDetail, PoSummary } from "../wire.ts";
import { NotFoundError, ValidationError } from "./errors.ts";
import { parseFetchConfig } from "./fetch_config.ts";
import { checkStorableJson, storableText } from "./text.ts";

export type { PoDetail, PoSummary } from "../wire.ts";

/** Fields of a presentation object that can be changed. */
export interface PoPatch {
  /** New label, 1-200 characters after trimming (no NUL, no unpaired surrogate). */
  label?: string;
  /**
   * New config; must be an object whose `fetch` passes `parseFetchConfig`, with no NUL or
   * unpaired surrogate in any string or key. At most 64 KiB JSON.
   */
  config?: unknown;
}

const DETAIL_COLUMNS = `po.po_id AS "poId", po.project_id AS "projectId", po.label,
  po.metric_id AS "metricId", ro.module_id AS "moduleId",
  m.results_object_id AS "resultsObjectId", po.config, iso_ts(po.last_updated) AS "lastUpdated"`;

/**
 * Lists a project's presentation objects, ordered by id.
 *
 * @throws {NotFoundError} If the project does not exist.
 */
export async function listPresentationObjects(db: Db, projectId: string): Promise<PoSummary[]> {
  const rows = await db.query<PoSummary | { poId: null }>(
    `SELECT po.po_id AS "poId", po.label, po.metric_id AS "metricId", ro.module_id AS "moduleId",
            iso_ts(po.last_updated) AS "lastUpdated"
       FROM projects p
       LEFT JOIN (presentation_objects po
                  JOIN metrics m ON m.metric_id = po.metric_id
                  JOIN results_objects ro ON ro.results_object_id = m.results_object_id)
         ON po.project_id = p.project_id
      WHERE p.project_id = $1
      ORDER BY po.po_id`,
    [projectId],
  );
  if (rows.length === 0) throw new NotFoundError("project", projectId);
  return rows.filter((r): r is PoSummary => r.poId !== null);
}

/**
 * Reads one presentation object.
 *
 * @returns The object, or undefined when the project or object does not exist.
 */
export async function getPresentationObject(
  db: Db,
  projectId: string,
  poId: string,
): Promise<PoDetail | undefined> {
  const rows = await db.query<PoDetail>(
    `SELECT ${DETAIL_COLUMNS}
       FROM presentation_objects po
       JOIN metrics m ON m.metric_id = po.metric_id
       JOIN results_objects ro ON ro.results_object_id = m.results_object_id
      WHERE po.project_id = $1 AND po.po_id = $2`,
    [projectId, poId],
  );
  return rows[0];
}

function parsePatch(patch: unknown): { label: string | null; config: string | null } {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) {
    throw new ValidationError("The update must be an object {label?, config?}");
  }
  const p = patch as Record<string, unknown>;
  for (const key of Object.keys(p)) {
    if (key !== "label" && key !== "config") {
      throw new ValidationError(`Unknown field '${key}' (allowed: label, config)`, key);
    }
  }
  if (p.label === undefined && p.config === undefined) {
    throw new ValidationError("Nothing to update: give 'label' or 'config'");
  }
  let label: string | null = null;
  if (p.label !== undefined) {
    if (typeof p.label !== "string" || p.label.trim() === "" || p.label.trim().length > 200) {
      throw new ValidationError("'label' must be a string of 1 to 200 characters", "label");
    }
    label = storableText(p.label.trim(), "label");
  }
  let config: string | null = null;
  if (p.config !== undefined) {
    if (typeof p.config !== "object" || p.config === null || Array.isArray(p.config)) {
      throw new ValidationError("'config' must be an object {fetch, ...}", "config");
    }
    const raw = p.config as Record<string, unknown>;
    let fetch;
    try {
      fetch = parseFetchConfig(raw.fetch);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      const field = error.field ? `config.fetch.${error.field}` : "config.fetch";
      throw new ValidationError(`Invalid 'config.fetch': ${error.message}`, field);
    }
    checkStorableJson(raw, "config");
    config = JSON.stringify({ ...raw, fetch });
    if (config.length > 65536) {
      throw new ValidationError("'config' is larger than 64 KiB", "config");
    }
  }
  return { label, config };
}

/**
 * Changes a presentation object's label and/or config and bumps `last_updated` to
 * `clock_timestamp()`. The stored `config.fetch` is the normalized form.
 *
 * @returns The updated object, or undefined when the project or object does not exist.
 * @throws {ValidationError} If the patch has unknown fields, a bad label, or an invalid
 *   `config.fetch` (the message names the field).
 */
export async function updatePresentationObject(
  db: Db,
  projectId: string,
  poId: string,
  patch: PoPatch,
): Promise<PoDetail | undefined> {
  const { label, config } = parsePatch(patch);
  const rows = await db.query<PoDetail>(
    `WITH po AS (
       UPDATE presentation_objects
          SET label = coalesce($3::text, label),
              config = coalesce($4::text::jsonb, config),
              last_updated = clock_timestamp()
        WHERE project_id = $1 AND po_id = $2
        RETURNING *)
     SELECT ${DETAIL_COLUMNS}
       FROM po
       JOIN metrics m ON m.metric_id = po.metric_id
       JOIN results_objects ro ON ro.results_object_id = m.results_object_id`,
    [projectId, poId, label, config],
  );
  return rows[0];
}
