/**
 * Schema migrations: the SQL files in `server/migrations/` (`NNN_name.sql`), applied in name
 * order and recorded in `schema_migrations`.
 *
 * @module
 */

import type { Db } from "./db.ts";

const MIGRATIONS_DIR = new URL("./migrations/", import.meta.url);
const MIGRATION_FILE = /^\d{3}_[a-z0-9_]+\.sql$/;

/** Names of the migration files shipped with the server, in the order they apply. */
export async function listMigrations(): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(MIGRATIONS_DIR)) {
    if (entry.isFile && MIGRATION_FILE.test(entry.name)) names.push(entry.name);
  }
  return names.sort();
}

/**
 * Applies the pending migrations in order, all in one transaction, and records each in
 * `schema_migrations (name, applied_at)`. Idempotent; concurrent callers are serialized by an
 * advisory lock.
 *
 * @param db Database to migrate.
 * @returns The names of the migrations applied now (empty when the schema was current).
 * @throws {Error} The failing statement's error; nothing is applied then.
 * @example Migrate an embedded database
 * ```ts
 * import { openPglite } from "./db.ts";
 * const db = await openPglite();
 * await migrate(db); // ["001_structure.sql", ...]
 * await db.close();
 * ```
 */
export async function migrate(db: Db): Promise<string[]> {
  const names = await listMigrations();
  const sources = new Map<string, string>();
  for (const name of names) {
    sources.set(name, await Deno.readTextFile(new URL(name, MIGRATIONS_DIR)));
  }
  return await db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext('wb_schema_migrations'))");
    await tx.exec(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         name text PRIMARY KEY,
         applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
       )`,
    );
    const applied = new Set(
      (await tx.query<{ name: string }>("SELECT name FROM schema_migrations")).map((r) => r.name),
    );
    const pending = names.filter((name) => !applied.has(name));
    for (const name of pending) {
      await tx.exec(sources.get(name)!);
      await tx.query("INSERT INTO schema_migrations (name) VALUES ($1)", [name]);
    }
    return pending;
  });
}
