/**
 * A throwaway database on the machine's PostgreSQL loaded with the demo's full data: the
 * real GRID3 Kano facility list (synthetic when the file is absent), 60 months of modeled
 * HMIS counts, the sample project with its module run. Shared by the server-throughput and
 * memory benchmarks (loading takes several seconds).
 *
 * @module
 */
import { createTestDatabase, type TestDatabase } from "../server/testing/pg.ts";
import { loadInstance, type LoadSummary } from "../server/load/mod.ts";

/** A loaded database; dispose it with `await using` (drops the database). */
export interface KanoDatabase extends TestDatabase {
  summary: LoadSummary;
}

/**
 * Creates and loads the database.
 *
 * @throws {DatabaseUnavailableError} If PostgreSQL is not running on 127.0.0.1:5432.
 */
export async function createKanoDatabase(): Promise<KanoDatabase> {
  const test = await createTestDatabase();
  try {
    const summary = await loadInstance(test.db, {});
    return Object.assign(test, { summary });
  } catch (error) {
    await test[Symbol.asyncDispose]();
    throw error;
  }
}
