/**
 * Projects.
 *
 * @module
 */

import type { Db } from "../db.ts";
import type { ProjectSummary } from "../wire.ts";

export type { ProjectSummary } from "../wire.ts";

/**
 * Lists all projects, ordered by id.
 *
 * @throws {DatabaseUnavailableError} If the database cannot be reached.
 */
export function listProjects(db: Db): Promise<ProjectSummary[]> {
  return db.query<ProjectSummary>(
    `SELECT project_id AS "projectId", label FROM projects ORDER BY project_id`,
  );
}
