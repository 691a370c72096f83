/**
 * The facility structure: Nigeria > state > LGA > ward, with facility counts.
 *
 * @module
 */

import type { Db } from "../db.ts";

/** One admin area and the areas below it. */
export interface StructureNode {
  /** 1 country, 2 state, 3 LGA, 4 ward. */
  level: 1 | 2 | 3 | 4;
  name: string;
  /** Facilities in this area and below. */
  facilityCount: number;
  /** Areas one level down, sorted by name (empty for wards). */
  children: StructureNode[];
}

/** The whole structure. */
export interface Structure {
  /** Import counter of the structure (0 before the first import). */
  version: number;
  /** ISO-8601 UTC of the last import, null before the first. */
  lastImported: string | null;
  facilityCount: number;
  /** Level-1 areas (countries), sorted by name. */
  areas: StructureNode[];
}

interface AreaRow {
  level: 1 | 2 | 3 | 4;
  a1: string;
  a2: string | null;
  a3: string | null;
  a4: string | null;
  facilities: number;
}

/**
 * Reads the admin-area tree with facility counts per area (a few hundred rows; the server keeps
 * it in memory keyed by `version`).
 */
export async function getStructure(db: Db): Promise<Structure> {
  const meta = await db.query<{ version: number; lastImported: string }>(
    `SELECT version, iso_ts(last_imported) AS "lastImported" FROM structure_meta`,
  );
  const rows = await db.query<AreaRow>(
    `SELECT 1 AS level, admin_area_1 AS a1, NULL AS a2, NULL AS a3, NULL AS a4, 0 AS facilities
       FROM admin_areas_1
     UNION ALL
     SELECT 2, admin_area_1, admin_area_2, NULL, NULL, 0 FROM admin_areas_2
     UNION ALL
     SELECT 3, admin_area_1, admin_area_2, admin_area_3, NULL, 0 FROM admin_areas_3
     UNION ALL
     SELECT 4, a.admin_area_1, a.admin_area_2, a.admin_area_3, a.admin_area_4,
            count(f.facility_id)::int
       FROM admin_areas_4 a
       LEFT JOIN facilities f USING (admin_area_1, admin_area_2, admin_area_3, admin_area_4)
      GROUP BY 1, 2, 3, 4, 5
     ORDER BY 1, 2, 3, 4, 5`,
  );
  const nodes = new Map<string, StructureNode>();
  const areas: StructureNode[] = [];
  for (const row of rows) {
    const path = [row.a1, row.a2, row.a3, row.a4].slice(0, row.level) as string[];
    const node: StructureNode = {
      level: row.level,
      name: path[path.length - 1],
      facilityCount: row.level === 4 ? row.facilities : 0,
      children: [],
    };
    nodes.set(JSON.stringify(path), node);
    if (row.level === 1) areas.push(node);
    else nodes.get(JSON.stringify(path.slice(0, -1)))?.children.push(node);
  }
  const total = (node: StructureNode): number => {
    if (node.level < 4) node.facilityCount = node.children.reduce((s, c) => s + total(c), 0);
    return node.facilityCount;
  };
  const facilityCount = areas.reduce((sum, area) => sum + total(area), 0);
  return {
    version: meta[0]?.version ?? 0,
    lastImported: meta[0]?.lastImported ?? null,
    facilityCount,
    areas,
  };
}
