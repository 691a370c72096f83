/**
 * Projects.
 *
 * @module
 */

import type { Db } from "../db.ts";

/** A project as listed. */
export interface ProjectSummary {
  projectId: string;
  label: string;
}

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
