/**
 * Entry kept for scripts of earlier releases: `user_add.ts <email> [--admin|--viewer]` is
 * `user_admin.ts add <email> …` (an existing user keeps its role unless a flag says
 * otherwise). See `server/user_admin.ts`.
 *
 * @module
 */
import { userAdmin } from "./user_admin.ts";

if (import.meta.main) {
  Deno.exit(await userAdmin(["add", ...Deno.args], Deno.env.get("DATABASE_URL")));
}
