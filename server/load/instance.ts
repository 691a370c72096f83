/**
 * Loads a whole instance: schema, structure, indicators, HMIS and HFA datasets, and the sample
 * project with its module run once.
 *
 * @module
 */

import type { Db } from "../db.ts";
import { migrate } from "../migrate.ts";
import { dropOrphanResultsPartitions, runModule } from "../model/mod.ts";
import {
  type Facility,
  findDefaultGrid3Csv,
  readGrid3Facilities,
  replicateFacilities,
  syntheticFacilities,
} from "./grid3.ts";
import { DEFAULT_MONTHS, INDICATORS, modelHfa, modelHmis } from "./model.ts";
import { DEMO_MODULE_ID, DEMO_PROJECT_ID, demoProject } from "./demo_project.ts";

/** Options of {@linkcode loadInstance}. */
export interface LoadOptions {
  /**
   * GRID3 facilities CSV. Default: the real Kano file next to the repository when present
   * (`../shared/data/…`), else a synthetic list of 1,723 facilities (or `facilityLimit`).
   */
  facilitiesCsv?: string;
  /** Copies of the facility list (distinct ids `<id>-r2`, …) for benchmarks. @default {1} */
  scale?: number;
  /** Seed of the data models. @default {1} */
  seed?: number;
  /** Months of HMIS data, ending 202512. @default {60} */
  months?: number;
  /** Keep only the first N facilities of the file (before scaling). */
  facilityLimit?: number;
  /** Progress lines (none by default). */
  log?: (line: string) => void;
}

/** What {@linkcode loadInstance} loaded. Durations in milliseconds. */
export interface LoadSummary {
  /** The CSV path, or "synthetic". */
  source: string;
  facilities: number;
  /** Distinct states, LGAs and wards (lga+ward pairs). */
  adminAreas: { states: number; lgas: number; wards: number };
  indicators: number;
  hmisRows: number;
  hfaRows: number;
  /** Result rows written by the sample module's run. */
  resultsRows: number;
  presentationObjects: number;
  /** Versions after the load (each load bumps all three). */
  versions: { structure: number; hmis: number; hfa: number };
  /** `last_run` of the sample module (ISO-8601). */
  moduleLastRun: string;
  ms: { total: number; read: number; load: number; analyze: number; module: number };
}

/**
 * Resolves the facility list: file (or the default file, or synthetic), limit, then scale.
 *
 * @throws {Grid3FormatError} If the file is not a usable GRID3 CSV.
 */
export async function resolveFacilities(
  options: Pick<LoadOptions, "facilitiesCsv" | "facilityLimit" | "scale" | "seed">,
): Promise<{ source: string; facilities: Facility[] }> {
  const limit = options.facilityLimit;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new RangeError(`Cannot load: 'facilityLimit' (${limit}) must be an integer >= 1`);
  }
  const path = options.facilitiesCsv ?? await findDefaultGrid3Csv();
  let facilities = path === undefined
    ? syntheticFacilities(limit ?? 1723, options.seed ?? 1)
    : await readGrid3Facilities(path);
  if (limit !== undefined) facilities = facilities.slice(0, limit);
  facilities = replicateFacilities(facilities, options.scale ?? 1);
  return { source: path ?? "synthetic", facilities };
}

function distinctAreas(facilities: Facility[]) {
  const keys = (n: number) => {
    const seen = new Map<string, string[]>();
    for (const f of facilities) {
      const path = [f.adminArea1, f.adminArea2, f.adminArea3, f.adminArea4].slice(0, n);
      seen.set(JSON.stringify(path), path);
    }
    return [...seen.values()];
  };
  return { a1: keys(1), a2: keys(2), a3: keys(3), a4: keys(4) };
}

async function bumpVersion(tx: Db, datasetId: "hmis" | "hfa"): Promise<number> {
  const [{ version }] = await tx.query<{ version: number }>(
    `INSERT INTO dataset_versions (dataset_id, version, last_imported)
     VALUES ($1, 1, clock_timestamp())
     ON CONFLICT (dataset_id) DO UPDATE
       SET version = dataset_versions.version + 1, last_imported = clock_timestamp()
     RETURNING version`,
    [datasetId],
  );
  return version;
}

/**
 * Runs `fn` with the indexes (and index-backed constraints) of `table` dropped, then re-creates
 * them from their catalog definitions: a bulk index build is several times faster than
 * maintaining the indexes row by row during a large COPY. Call inside a transaction.
 */
async function withIndexesRebuilt<T>(tx: Db, table: string, fn: () => Promise<T>): Promise<T> {
  const indexes = await tx.query<
    { table: string; index: string; def: string; constraint: string | null; condef: string | null }
  >(
    `SELECT format('%I', t.relname) AS table, format('%I', ci.relname) AS index,
            pg_get_indexdef(i.indexrelid) AS def,
            quote_ident(con.conname) AS constraint, pg_get_constraintdef(con.oid) AS condef
       FROM pg_index i
       JOIN pg_class t ON t.oid = i.indrelid
       JOIN pg_class ci ON ci.oid = i.indexrelid
       LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
      WHERE i.indrelid = $1::regclass`,
    [table],
  );
  for (const ix of indexes) {
    await tx.exec(
      ix.constraint
        ? `ALTER TABLE ${ix.table} DROP CONSTRAINT ${ix.constraint}`
        : `DROP INDEX ${ix.index}`,
    );
  }
  const value = await fn();
  for (const ix of indexes) {
    await tx.exec(
      ix.constraint
        ? `ALTER TABLE ${ix.table} ADD CONSTRAINT ${ix.constraint} ${ix.condef}`
        : ix.def,
    );
  }
  return value;
}

async function seedDemoProject(tx: Db, facilities: Facility[]): Promise<number> {
  const demo = demoProject(facilities);
  const { projectId, label } = demo.project;
  await tx.query("DELETE FROM projects WHERE project_id = $1", [projectId]);
  await tx.query("INSERT INTO projects (project_id, label) VALUES ($1, $2)", [projectId, label]);
  await tx.query(
    "INSERT INTO modules (project_id, module_id, label, params) VALUES ($1, $2, $3, $4::text::jsonb)",
    [projectId, demo.module.moduleId, demo.module.label, JSON.stringify(demo.module.params)],
  );
  await tx.query(
    `INSERT INTO results_objects (results_object_id, project_id, module_id, label)
     VALUES ($1, $2, $3, $4)`,
    [demo.resultsObject.resultsObjectId, projectId, demo.module.moduleId, demo.resultsObject.label],
  );
  for (const m of demo.metrics) {
    await tx.query(
      `INSERT INTO metrics (metric_id, project_id, results_object_id, label, value_props,
                            disaggregation_options)
       VALUES ($1, $2, $3, $4, $5::text::jsonb, $6::text::jsonb)`,
      [
        m.metricId,
        projectId,
        demo.resultsObject.resultsObjectId,
        m.label,
        JSON.stringify(m.valueProps),
        JSON.stringify(m.disaggregationOptions),
      ],
    );
  }
  for (const po of demo.presentationObjects) {
    await tx.query(
      `INSERT INTO presentation_objects (po_id, project_id, metric_id, label, config)
       VALUES ($1, $2, $3, $4, $5::text::jsonb)`,
      [po.poId, projectId, po.metricId, po.label, JSON.stringify(po.config)],
    );
  }
  return demo.presentationObjects.length;
}

/**
 * Loads (or reloads) an instance into `db`:
 * 1. reads the facility list, then applies pending migrations;
 * 2. in one transaction: truncates structure, indicators, datasets and all results; copies
 *    admin areas, facilities, indicators, modelled HMIS and HFA rows (COPY); bumps the structure
 *    and dataset versions; clears every module's `last_run` (its results are gone); re-creates
 *    the sample project "demo" (module "m001", results object, 2 metrics, 8 presentation
 *    objects);
 * 3. `ANALYZE`s the loaded tables and runs module "m001" once.
 *
 * Readers see either the old or the new data (the truncate lock makes them wait meanwhile).
 * A full Kano load (1,723 facilities × 60 months, ≈1.1 M HMIS rows) takes seconds on PostgreSQL.
 *
 * @throws {Grid3FormatError} If the facilities file is not a usable GRID3 CSV.
 * @throws {RangeError} If `scale`, `months` or `facilityLimit` is invalid.
 * @throws {DatabaseUnavailableError} If the database cannot be reached.
 * @example Load a small instance into an embedded database
 * ```ts
 * import { openPglite } from "../db.ts";
 * const db = await openPglite();
 * const summary = await loadInstance(db, { facilityLimit: 20, months: 6 });
 * await db.close();
 * ```
 */
export async function loadInstance(db: Db, options: LoadOptions = {}): Promise<LoadSummary> {
  const log = options.log ?? (() => {});
  const seed = options.seed ?? 1;
  const months = options.months ?? DEFAULT_MONTHS;
  if (!Number.isInteger(months) || months < 1 || months > 600) {
    throw new RangeError(`Cannot load: 'months' (${months}) must be an integer from 1 to 600`);
  }
  const t0 = performance.now();
  const since = (t: number) => Math.round(performance.now() - t);

  const { source, facilities } = await resolveFacilities({ ...options, seed });
  const applied = await migrate(db);
  if (applied.length > 0) log(`migrations applied: ${applied.join(", ")}`);
  const areas = distinctAreas(facilities);
  log(
    `facilities: ${facilities.length} from ${source} (${areas.a3.length} LGAs, ${areas.a4.length} wards)`,
  );
  const readMs = since(t0);

  const t1 = performance.now();
  const loaded = await db.transaction(async (tx) => {
    await tx.exec(
      `TRUNCATE results_hmis, dataset_hmis, dataset_hfa, facilities, admin_areas_4,
                admin_areas_3, admin_areas_2, admin_areas_1, indicators`,
    );
    await tx.copyRows("admin_areas_1", ["admin_area_1"], areas.a1);
    await tx.copyRows("admin_areas_2", ["admin_area_1", "admin_area_2"], areas.a2);
    await tx.copyRows("admin_areas_3", ["admin_area_1", "admin_area_2", "admin_area_3"], areas.a3);
    await tx.copyRows(
      "admin_areas_4",
      ["admin_area_1", "admin_area_2", "admin_area_3", "admin_area_4"],
      areas.a4,
    );
    await tx.copyRows(
      "facilities",
      [
        "facility_id",
        "facility_name",
        "admin_area_1",
        "admin_area_2",
        "admin_area_3",
        "admin_area_4",
        "facility_level",
        "ownership",
        "ownership_type",
        "facility_type",
        "latitude",
        "longitude",
      ],
      facilities.map((f) => [
        f.facilityId,
        f.facilityName,
        f.adminArea1,
        f.adminArea2,
        f.adminArea3,
        f.adminArea4,
        f.facilityLevel,
        f.ownership,
        f.ownershipType,
        f.facilityType,
        f.latitude,
        f.longitude,
      ]),
    );
    const [{ version: structure }] = await tx.query<{ version: number }>(
      `INSERT INTO structure_meta (id, version, last_imported) VALUES (true, 1, clock_timestamp())
       ON CONFLICT (id) DO UPDATE
         SET version = structure_meta.version + 1, last_imported = clock_timestamp()
       RETURNING version`,
    );
    const indicators = await tx.copyRows(
      "indicators",
      ["indicator_id", "label", "category", "sort_order"],
      INDICATORS.map((ind, i) => [ind.indicatorId, ind.label, ind.category, i + 1]),
    );
    log(`structure v${structure}: ${facilities.length} facilities, ${indicators} indicators`);

    const tHmis = performance.now();
    const hmisRows = await withIndexesRebuilt(tx, "dataset_hmis", () =>
      tx.copyRows(
        "dataset_hmis",
        ["facility_id", "indicator_id", "period_id", "count"],
        (function* () {
          for (const r of modelHmis(facilities, { seed, months })) {
            yield [r.facilityId, r.indicatorId, r.periodId, r.count];
          }
        })(),
      ));
    const hmis = await bumpVersion(tx, "hmis");
    log(`hmis v${hmis}: ${hmisRows} rows in ${since(tHmis)} ms`);

    const hfaRows = await tx.copyRows(
      "dataset_hfa",
      ["facility_id", "time_point", "var_name", "value"],
      (function* () {
        for (const r of modelHfa(facilities, { seed })) {
          yield [r.facilityId, r.timePoint, r.varName, r.value];
        }
      })(),
    );
    const hfa = await bumpVersion(tx, "hfa");
    log(`hfa v${hfa}: ${hfaRows} rows`);

    await tx.query("UPDATE modules SET last_run = NULL WHERE last_run IS NOT NULL");
    const presentationObjects = await seedDemoProject(tx, facilities);
    await dropOrphanResultsPartitions(tx);
    return {
      indicators,
      hmisRows,
      hfaRows,
      presentationObjects,
      versions: { structure, hmis, hfa },
    };
  });
  const loadMs = since(t1);

  const t2 = performance.now();
  await db.exec(
    "ANALYZE admin_areas_3; ANALYZE admin_areas_4; ANALYZE facilities; ANALYZE indicators; " +
      "ANALYZE dataset_hmis; ANALYZE dataset_hfa",
  );
  const analyzeMs = since(t2);

  const run = await runModule(db, DEMO_PROJECT_ID, DEMO_MODULE_ID);
  log(`module ${DEMO_PROJECT_ID}/${DEMO_MODULE_ID}: ${run.rows} result rows in ${run.ms} ms`);

  return {
    source,
    facilities: facilities.length,
    adminAreas: { states: areas.a2.length, lgas: areas.a3.length, wards: areas.a4.length },
    ...loaded,
    resultsRows: run.rows,
    moduleLastRun: run.lastRun,
    ms: {
      total: since(t0),
      read: readMs,
      load: loadMs,
      analyze: analyzeMs,
      module: run.ms,
    },
  };
}
