/**
 * Entry: create a user of the web client (or set an existing one's admin flag) and issue a
 * one-time login token, in the database at `DATABASE_URL`. `wb user add` runs it the way
 * `wb load` runs the loader (natively, or in a throw-away container of the app image).
 *
 * ```sh
 * DATABASE_URL=postgres://postgres@127.0.0.1:5432/wb deno run -A server/user_add.ts ada@example.org --admin
 * ```
 *
 * Prints one JSON line: `{ "email", "isAdmin", "created", "token", "expiresAt" }` (the token is
 * shown once and stored only as its SHA-256). Applies pending migrations first. Exit codes:
 * 0 done, 1 database error, 2 usage error.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { connectPostgres } from "./db.ts";
import { migrate } from "./migrate.ts";
import { ValidationError } from "./model/mod.ts";
import { issueLoginToken, upsertUser } from "./users.ts";

const USAGE = `Usage: deno run -A server/user_add.ts <email> [--admin]
Environment: DATABASE_URL (required)`;

async function main(args: string[], databaseUrl: string | undefined): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { admin: { type: "boolean", default: false }, help: { type: "boolean" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return 0;
  }
  if (parsed.positionals.length !== 1 || !databaseUrl) {
    console.error(USAGE);
    return 2;
  }
  const db = connectPostgres(databaseUrl, { max: 1, connectTimeoutS: 10 });
  try {
    await migrate(db);
    const { user, created } = await upsertUser(db, parsed.positionals[0], {
      isAdmin: parsed.values.admin,
    });
    const { token, expiresAt } = await issueLoginToken(db, user.userId);
    console.log(
      JSON.stringify({ email: user.email, isAdmin: user.isAdmin, created, token, expiresAt }),
    );
    return 0;
  } catch (error) {
    console.error(String((error as Error)?.message ?? error));
    return error instanceof ValidationError ? 2 : 1;
  } finally {
    await db.close();
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args, Deno.env.get("DATABASE_URL")));
}
