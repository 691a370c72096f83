/**
 * The national benchmark's database: a dedicated database on the machine's PostgreSQL
 * (`wb_national_s<scale>`), loaded with the real GRID3 Kano facility list replicated `scale`
 * times (`--scale 27` ≈ Nigeria's 46,000 facilities; every copy is its own state, LGAs and
 * wards), `months` of modelled HMIS counts and the demo project with its module run, all
 * through the loader's `COPY` path (`server/load/instance.ts`); then the filler projects whose
 * presentation objects fill the cache (see {@linkcode seedFillerProjects}).
 *
 * A loaded database records what it holds in `bench_national`; with `reuse` a database that
 * holds the same scale and months is kept as it is, so reruns skip the load.
 *
 * @module
 */
import { connectPostgres, type Db } from "../server/db.ts";
import {
  DEMO_PROJECT_ID,
  DEMO_RESULTS_OBJECT_ID,
  INDICATORS,
  loadInstance,
} from "../server/load/mod.ts";
import { TEST_PG_ADMIN_URL } from "../server/testing/pg.ts";

/** What {@linkcode openNationalDatabase} returns. Durations in milliseconds. */
export interface NationalDatabase extends AsyncDisposable {
  /** `postgres://postgres@127.0.0.1:5432/wb_national_s<scale>`. */
  url: string;
  name: string;
  /** A small pool (2 connections) for the benchmark's own queries. */
  db: Db;
  /** Whether this run loaded the data (false: reused). */
  loaded: boolean;
  /** The load's duration (from this run, or the one recorded when it was loaded). */
  loadMs: number;
  /** The load's split: read, COPY + index build, ANALYZE, module run (ms). */
  loadSplit: { read: number; load: number; analyze: number; module: number };
  /** When the data was loaded (ISO-8601). */
  loadedAt: string;
  facilities: number;
  hmisRows: number;
  resultsRows: number;
}

/** Options of {@linkcode openNationalDatabase}. */
export interface NationalDatabaseOptions {
  /** Copies of the Kano facility list. */
  scale: number;
  /** Months of HMIS data, ending 202512. */
  months: number;
  /** Keep a database that already holds this scale and months. @default {false} */
  reuse?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
}

interface Meta {
  scale: number;
  months: number;
  load_ms: number;
  split: { read: number; load: number; analyze: number; module: number };
  loaded_at: string;
  facilities: number;
  hmis_rows: number;
  results_rows: number;
}

async function readMeta(db: Db): Promise<Meta | undefined> {
  const [{ exists }] = await db.query<{ exists: boolean }>(
    "SELECT to_regclass('bench_national') IS NOT NULL AS exists",
  );
  if (!exists) return undefined;
  const rows = await db.query<{ meta: Meta }>("SELECT meta FROM bench_national");
  return rows[0]?.meta;
}

/**
 * Opens (creating it when missing) the benchmark's database and loads it unless `reuse` finds
 * the same data there. The database is kept after the run (dispose closes the pool only), so
 * `--reuse` can skip the load next time; drop it with `DROP DATABASE wb_national_s<scale>`.
 *
 * @throws {DatabaseUnavailableError} If PostgreSQL is not running on 127.0.0.1:5432.
 */
export async function openNationalDatabase(
  options: NationalDatabaseOptions,
): Promise<NationalDatabase> {
  const log = options.log ?? (() => {});
  const name = `wb_national_s${options.scale}`;
  const admin = connectPostgres(TEST_PG_ADMIN_URL, { max: 1, connectTimeoutS: 5 });
  try {
    const [{ n }] = await admin.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_database WHERE datname = $1",
      [name],
    );
    if (n === 0) await admin.exec(`CREATE DATABASE ${name}`);
  } finally {
    await admin.close();
  }
  const url = `postgres://postgres@127.0.0.1:5432/${name}`;
  const db = connectPostgres(url, { max: 2, connectTimeoutS: 5 });
  try {
    let meta = await readMeta(db);
    const same = meta?.scale === options.scale && meta?.months === options.months;
    const loaded = !(options.reuse && same);
    if (!loaded) {
      log(`reusing ${name} (loaded ${meta!.loaded_at} in ${meta!.load_ms} ms)`);
    } else {
      log(`loading ${name}: scale ${options.scale}, ${options.months} months`);
      const summary = await loadInstance(db, {
        scale: options.scale,
        months: options.months,
        log: (line) => log(`  ${line}`),
      });
      meta = {
        scale: options.scale,
        months: options.months,
        load_ms: summary.ms.total,
        split: {
          read: summary.ms.read,
          load: summary.ms.load,
          analyze: summary.ms.analyze,
          module: summary.ms.module,
        },
        loaded_at: new Date().toISOString(),
        facilities: summary.facilities,
        hmis_rows: summary.hmisRows,
        results_rows: summary.resultsRows,
      };
      await db.exec("CREATE TABLE IF NOT EXISTS bench_national (meta jsonb NOT NULL)");
      await db.transaction(async (tx) => {
        await tx.exec("DELETE FROM bench_national");
        await tx.query("INSERT INTO bench_national (meta) VALUES ($1::text::jsonb)", [
          JSON.stringify(meta),
        ]);
      });
    }
    const m = meta!;
    return {
      url,
      name,
      db,
      loaded,
      loadMs: m.load_ms,
      loadSplit: m.split,
      loadedAt: m.loaded_at,
      facilities: m.facilities,
      hmisRows: m.hmis_rows,
      resultsRows: m.results_rows,
      async [Symbol.asyncDispose]() {
        await db.close();
      },
    };
  } catch (error) {
    await db.close();
    throw error;
  }
}

/** Prefix of the filler projects' ids (`nat01`, `nat02`, …). */
export const FILLER_PROJECT_PREFIX = "nat";

/** A filler presentation object, in the order the benchmark warms them. */
export interface FillerObject {
  projectId: string;
  poId: string;
}

/**
 * Seeds `projects` filler projects (replacing earlier ones), each with one metric over the demo
 * module's national results and one presentation object per (indicator, month, group of at
 * most 11 states): facility-level rows of one indicator in one month (up to 11 × 1,723 =
 * 18,953 items, under the 20,000-item limit), which is what an analyst's facility table is.
 * The projects share the demo's module run, so the load stays one national run; their cache
 * keys are per project, as they are for real projects.
 *
 * @param db The benchmark's database (loaded).
 * @param projects How many projects to seed.
 * @returns The filler objects, interleaved across projects (warm them in this order).
 */
export async function seedFillerProjects(db: Db, projects: number): Promise<FillerObject[]> {
  const states = (await db.query<{ s: string }>(
    "SELECT admin_area_2 AS s FROM admin_areas_2 ORDER BY 1",
  )).map((r) => r.s);
  const [{ periods }] = await db.query<{ periods: number[] }>(
    `SELECT coalesce(array_agg(DISTINCT period_id ORDER BY period_id), '{}') AS periods
       FROM dataset_hmis WHERE facility_id = (SELECT min(facility_id) FROM facilities)`,
  );
  const groups: string[][] = [];
  for (let i = 0; i < states.length; i += 11) groups.push(states.slice(i, i + 11));
  const configs: { key: string; fetch: Record<string, unknown> }[] = [];
  for (const [g, group] of groups.entries()) {
    for (const period of periods) {
      for (const ind of INDICATORS) {
        configs.push({
          key: `${ind.indicatorId}_${period}_g${g + 1}`,
          fetch: {
            values: [
              { prop: "count", func: "SUM" },
              { prop: "count_adjusted", func: "SUM" },
              { prop: "outlier", func: "SUM" },
            ],
            groupBys: ["admin_area_2", "facility_id"],
            filters: [
              { col: "indicator_id", vals: [ind.indicatorId] },
              { col: "period_id", vals: [period] },
              { col: "admin_area_2", vals: group },
            ],
          },
        });
      }
    }
  }
  // Months first, newest first: the order an analyst's tables get opened.
  configs.reverse();
  const ids = Array.from(
    { length: projects },
    (_, p) => `${FILLER_PROJECT_PREFIX}${String(p + 1).padStart(2, "0")}`,
  );
  await db.transaction(async (tx) => {
    await tx.query("DELETE FROM projects WHERE project_id LIKE $1", [
      `${FILLER_PROJECT_PREFIX}%`,
    ]);
    await tx.copyRows(
      "projects",
      ["project_id", "label"],
      ids.map((id, p) => [id, `National filler project ${p + 1}`]),
    );
    await tx.copyRows(
      "metrics",
      [
        "metric_id",
        "project_id",
        "results_object_id",
        "label",
        "value_props",
        "disaggregation_options",
      ],
      ids.map((id) => [
        `${id}_counts`,
        id,
        DEMO_RESULTS_OBJECT_ID,
        "Facility counts",
        ["count", "count_adjusted", "outlier"],
        [
          "admin_area_2",
          "admin_area_3",
          "admin_area_4",
          "facility_id",
          "indicator_id",
          "period_id",
        ],
      ]),
    );
    await tx.copyRows(
      "presentation_objects",
      ["po_id", "project_id", "metric_id", "label", "config"],
      (function* () {
        for (const id of ids) {
          for (const c of configs) {
            yield [`${id}_${c.key}`, id, `${id}_counts`, `Facilities ${c.key}`, {
              fetch: c.fetch,
              display: { type: "table" },
            }];
          }
        }
      })(),
    );
  });
  await db.exec("ANALYZE projects; ANALYZE metrics; ANALYZE presentation_objects");
  const out: FillerObject[] = [];
  for (const c of configs) {
    for (const id of ids) out.push({ projectId: id, poId: `${id}_${c.key}` });
  }
  return out;
}

/** The demo project's id, re-exported for the benchmark. */
export { DEMO_PROJECT_ID };
