/**
 * `wb user add | list | revoke | remove`: the users of an instance's web client.
 *
 * @module
 */

import type { Command } from "@commander-js/extra-typings";
import { UsageError } from "../errors.ts";
import { renderTable } from "../table.ts";
import { addUser, listUsers, removeUser, revokeUser } from "../users.ts";
import { type CommandEnv, examples } from "./shared.ts";

/**
 * Adds the `user` group to the program.
 *
 * @param program The `wb` program.
 * @param env The program's environment.
 */
export function addUserCommands(program: Command, env: CommandEnv): void {
  const { context, print } = env;
  // --- users of the web client ---------------------------------------------------------------
  const user = program.command("user")
    .description("users of the web client: add (one-time login link), list, revoke, remove")
    .addHelpText(
      "after",
      examples(
        "wb user add demo ada@example.org --admin",
        "wb user list demo",
        "wb user revoke demo ada@example.org",
      ),
    );

  user.command("add")
    .description(
      "create a user of the web client (an existing one keeps its role) and print a one-time login link",
    )
    .argument("<id>", "instance id")
    .argument("<email>", "the user's e-mail address")
    .option("--admin", "make it an administrator: may flush the shared cache, run modules, edit")
    .option("--viewer", "make it a viewer (reads only)")
    .addHelpText(
      "after",
      examples(
        "wb user add demo ada@example.org --admin",
        "wb user add demo viewer@example.org",
        "# the link is valid 24 h and works once; run it again for a new one (the role stays)",
      ),
    )
    .action(async (id, email, o) => {
      if (o.admin && o.viewer) throw new UsageError("Give --admin or --viewer, not both");
      const added = await addUser(context, id, email, {
        ...(o.admin ? { role: "admin" as const } : o.viewer ? { role: "viewer" as const } : {}),
      });
      print(
        `${added.created ? "Created" : "Updated"} ${added.email} (${
          added.isAdmin ? "administrator" : "viewer"
        }). One-time login link, valid until ${added.expiresAt}:\n${added.loginUrl}`,
      );
    });

  user.command("list")
    .alias("ls")
    .description("list the users of an instance: role, live sessions, pending login links")
    .argument("<id>", "instance id")
    .option("--json", "print JSON")
    .addHelpText("after", examples("wb user list demo", "wb user list demo --json"))
    .action(async (id, o) => {
      const users = await listUsers(context, id);
      print(
        o.json
          ? JSON.stringify(users, null, 2)
          : users.length === 0
          ? `'${id}' has no users; add one with \`wb user add ${id} <email>\``
          : renderTable(
            ["EMAIL", "ROLE", "SESSIONS", "PENDING LINKS", "CREATED"],
            users.map((u) => [
              u.email,
              u.isAdmin ? "administrator" : "viewer",
              String(u.activeSessions),
              String(u.pendingLinks),
              u.createdAt.slice(0, 10),
            ]),
          ),
      );
    });

  user.command("revoke")
    .description("end a user's sessions and void its unused login links (the user stays)")
    .argument("<id>", "instance id")
    .argument("<email>", "the user's e-mail address")
    .addHelpText("after", examples("wb user revoke demo ada@example.org"))
    .action(async (id, email) => {
      const revoked = await revokeUser(context, id, email);
      print(
        `Revoked ${email} on '${id}': ${revoked.sessions} session(s) ended, ${revoked.links} login link(s) voided`,
      );
    });

  user.command("remove")
    .alias("rm")
    .description("delete a user: its sessions and login links stop working at once")
    .argument("<id>", "instance id")
    .argument("<email>", "the user's e-mail address")
    .addHelpText("after", examples("wb user remove demo ada@example.org"))
    .action(async (id, email) => {
      await removeUser(context, id, email);
      print(`Removed ${email} from '${id}'; its sessions and login links no longer work`);
    });
}
