/**
 * Test helpers: a throwaway database on the machine's PostgreSQL (127.0.0.1:5432, user postgres,
 * trust auth) and a small loaded fixture.
 *
 * @module
 */

import { connectPostgres, type Db } from "../db.ts";
import { loadInstance, type LoadSummary } from "../load/mod.ts";

/** Admin connection used to create and drop test databases. */
export const TEST_PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";

/** A database that exists for one test. Dispose it with `await using`. */
export interface TestDatabase extends AsyncDisposable {
  /** `postgres://postgres@127.0.0.1:5432/<name>`. */
  url: string;
  /** Database name, `wb_test_<pid>_<random>`. */
  name: string;
  /** A connected pool (max 4 connections). */
  db: Db;
}

/**
 * Creates a uniquely named empty database. Disposal closes `db` and drops the database
 * `WITH (FORCE)`.
 *
 * @throws {DatabaseUnavailableError} If PostgreSQL is not running on 127.0.0.1:5432.
 * @example
 * ```ts
 * await using test = await createTestDatabase();
 * await test.db.query("SELECT 1");
 * ```
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `wb_test_${Deno.pid}_${crypto.randomUUID().slice(0, 8)}`;
  const admin = connectPostgres(TEST_PG_ADMIN_URL, { max: 1, connectTimeoutS: 5 });
  try {
    await admin.exec(`CREATE DATABASE ${name}`);
  } finally {
    await admin.close();
  }
  const url = `postgres://postgres@127.0.0.1:5432/${name}`;
  const db = connectPostgres(url, { max: 4, connectTimeoutS: 5 });
  return {
    url,
    name,
    db,
    async [Symbol.asyncDispose]() {
      await db.close();
      const dropper = connectPostgres(TEST_PG_ADMIN_URL, { max: 1, connectTimeoutS: 5 });
      try {
        await dropper.exec(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await dropper.close();
      }
    },
  };
}

/**
 * Loads the small test instance: the first 120 facilities of the real GRID3 Kano file (synthetic
 * when the file is absent), 24 months ending 202512, seed 1 (≈ 30 k HMIS rows, about 1 s).
 */
export function loadSmallFixture(db: Db): Promise<LoadSummary> {
  return loadInstance(db, { facilityLimit: 120, months: 24, seed: 1 });
}
