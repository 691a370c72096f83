/**
 * Entry: manage the users of the web client in the database at `DATABASE_URL`. `wb user`
 * runs it the way `wb load` runs the loader (natively, or in a throw-away container of the
 * app image).
 *
 * ```sh
 * DATABASE_URL=postgres://… deno run -A server/user_admin.ts add ada@example.org [--admin|--viewer]
 * DATABASE_URL=postgres://… deno run -A server/user_admin.ts list
 * DATABASE_URL=postgres://… deno run -A server/user_admin.ts revoke ada@example.org
 * DATABASE_URL=postgres://… deno run -A server/user_admin.ts remove ada@example.org
 * ```
 *
 * Prints one JSON line:
 * - `add`: `{ "email", "isAdmin", "created", "token", "expiresAt" }`: the user (an existing
 *   one keeps its role unless `--admin` or `--viewer` says otherwise) and a one-time login
 *   token (shown once, stored only as its SHA-256);
 * - `list`: `{ "users": [{ "email", "isAdmin", "createdAt", "activeSessions", "pendingLinks" }] }`;
 * - `revoke`: `{ "email", "sessions", "links" }`: its sessions ended, its unused links void;
 * - `remove`: `{ "email", "removed" }`: the user, its sessions and links deleted.
 *
 * Applies pending migrations first. Exit codes: 0 done, 1 database error, 2 usage error,
 * 3 no such user (`revoke`, `remove`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { connectPostgres } from "./db.ts";
import { migrate } from "./migrate.ts";
import { ValidationError } from "./model/mod.ts";
import { issueLoginToken, listUserDetails, removeUser, revokeUser, upsertUser } from "./users.ts";

const USAGE = `Usage: deno run -A server/user_admin.ts add <email> [--admin|--viewer]
       deno run -A server/user_admin.ts list | revoke <email> | remove <email>
Environment: DATABASE_URL (required)`;

/**
 * Runs one subcommand.
 *
 * @param args Arguments (subcommand first).
 * @param databaseUrl `DATABASE_URL`.
 * @returns The exit code.
 */
export async function userAdmin(args: string[], databaseUrl: string | undefined): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        admin: { type: "boolean" },
        viewer: { type: "boolean" },
        help: { type: "boolean" },
      },
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
  const [command, email, ...rest] = parsed.positionals;
  const needsEmail = command === "add" || command === "revoke" || command === "remove";
  if (
    !databaseUrl || !["add", "list", "revoke", "remove"].includes(command) || rest.length > 0 ||
    (needsEmail ? email === undefined : email !== undefined) ||
    (parsed.values.admin && parsed.values.viewer)
  ) {
    console.error(USAGE);
    return 2;
  }
  const db = connectPostgres(databaseUrl, { max: 1, connectTimeoutS: 10 });
  const print = (value: unknown) => console.log(JSON.stringify(value));
  try {
    await migrate(db);
    switch (command) {
      case "add": {
        const isAdmin = parsed.values.admin ? true : parsed.values.viewer ? false : undefined;
        const { user, created } = await upsertUser(db, email, { isAdmin });
        const { token, expiresAt } = await issueLoginToken(db, user.userId);
        print({ email: user.email, isAdmin: user.isAdmin, created, token, expiresAt });
        return 0;
      }
      case "list":
        print({ users: (await listUserDetails(db)).map(({ userId: _, ...u }) => u) });
        return 0;
      case "revoke": {
        const revoked = await revokeUser(db, email);
        if (!revoked) {
          console.error(`No user '${email}'`);
          return 3;
        }
        print({ email: email.trim().toLowerCase(), ...revoked });
        return 0;
      }
      default: {
        const removed = await removeUser(db, email);
        if (!removed) {
          console.error(`No user '${email}'`);
          return 3;
        }
        print({ email: email.trim().toLowerCase(), removed });
        return 0;
      }
    }
  } catch (error) {
    console.error(String((error as Error)?.message ?? error));
    return error instanceof ValidationError ? 2 : 1;
  } finally {
    await db.close();
  }
}

if (import.meta.main) {
  Deno.exit(await userAdmin(Deno.args, Deno.env.get("DATABASE_URL")));
}
