/**
 * `wb user add|list|revoke|remove`: the users of the web client of an instance, in its
 * database. `add` creates a user (or changes its role when `--admin`/`--viewer` says so;
 * otherwise an existing user keeps its role) and prints a one-time login link on the
 * instance's public URL (`publicUrl`, else `http://127.0.0.1:<port>`; valid 24 h, single
 * use).
 *
 * The work runs where `wb load` runs the loader: `server/user_admin.ts` with the instance's
 * `DATABASE_URL`, natively or in a throw-away container of the app image on the instance's
 * network. The steps are data ({@linkcode userStep}); only Postgres has to be up.
 *
 * @module
 */
import { join } from "node:path";
import { appEnvRecord, dockerEnvArgs } from "../server/env_contract.ts";
import { loadConfig, resolveTargets } from "./config.ts";
import { type Instance } from "./instance_schema.ts";
import { denoPathOf, type WbContext } from "./context.ts";
import { CliError, CommandFailedError, UsageError } from "./errors.ts";
import { runtimeFor } from "./instances.ts";
import { type Step } from "./plan.ts";
import { appImage } from "./images.ts";
import { dockerDatabaseUrl, INSTANCE_LABEL } from "./docker_plan.ts";
import { execStep } from "./runner.ts";
import { publicUrlOf } from "./runtime.ts";
import { ensureSecrets, generateSecrets, type Secrets } from "./secrets.ts";

/** The role `wb user add` gives: `admin`, `viewer`, or `undefined` to keep an existing one's. */
export type UserRole = "admin" | "viewer";

/** What `wb user add` did. */
export interface UserAdded {
  email: string;
  isAdmin: boolean;
  /** `false`: the user existed (its role is kept unless one was asked for). */
  created: boolean;
  /** The one-time login link. */
  loginUrl: string;
  /** When the link expires (ISO-8601). */
  expiresAt: string;
}

/** One user as `wb user list` shows it. */
export interface UserListed {
  email: string;
  isAdmin: boolean;
  /** When it was created (ISO-8601). */
  createdAt: string;
  /** Sessions that have not expired. */
  activeSessions: number;
  /** Login links neither used nor expired. */
  pendingLinks: number;
}

/**
 * The step that runs `server/user_admin.ts <args>` with the instance's `DATABASE_URL`, on
 * the host (native) or in the app image (docker).
 *
 * @param instance The instance.
 * @param databaseUrl Its DATABASE_URL as the step sees it (secret: passed in `env`).
 * @param args `add <email> [--admin|--viewer]`, `list`, `revoke <email>`, `remove <email>`.
 * @param context Repository root and `deno`.
 * @returns The step.
 * @example
 * ```ts
 * import { userStep } from "./users.ts";
 * const instance = { id: "demo", port: 8710, runtime: "native" } as never;
 * userStep(instance, "postgres://…", ["add", "ada@example.org", "--admin"], { repoRoot: "/repo", denoPath: "deno" }).args;
 * // ["run", "-A", "/repo/server/user_admin.ts", "add", "ada@example.org", "--admin"]
 * ```
 */
export function userStep(
  instance: Instance,
  databaseUrl: string,
  args: string[],
  context: Pick<WbContext, "repoRoot" | "denoPath">,
): Step {
  const title = `${
    args[0] === "list" ? "List users of" : `${args[0]} ${args[1]} on`
  } ${instance.id}`;
  if (instance.runtime === "docker") {
    const toolEnv = dockerEnvArgs({ databaseUrl });
    return {
      title,
      command: "docker",
      args: [
        "run",
        "--rm",
        "--network",
        instance.id,
        "--label",
        `${INSTANCE_LABEL}=${instance.id}`,
        ...toolEnv.args,
        appImage(instance),
        "deno",
        "run",
        "-A",
        "server/user_admin.ts",
        ...args,
      ],
      env: toolEnv.env,
    };
  }
  return {
    title,
    command: denoPathOf(context),
    args: ["run", "-A", join(context.repoRoot, "server", "user_admin.ts"), ...args],
    env: { ...appEnvRecord({ databaseUrl }), DENO_NO_UPDATE_CHECK: "1" },
    cwd: context.repoRoot,
  };
}

/** The last line of `server/user_admin.ts`'s output, parsed. */
function lastJson(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split("\n").pop() ?? "";
  try {
    const parsed = JSON.parse(line);
    if (typeof parsed === "object" && parsed !== null) return parsed;
  } catch { /* below */ }
  throw new CliError("command_failed", `server/user_admin.ts printed no JSON: ${line}`);
}

/**
 * Reads `server/user_admin.ts add`'s JSON line and makes the login link on the instance's
 * public URL.
 *
 * @throws {CliError} Code `command_failed` when the output is not the expected JSON.
 * @example
 * ```ts
 * import { parseUserAdded } from "./users.ts";
 * parseUserAdded('{"email":"a@b.c","isAdmin":false,"created":true,"token":"t","expiresAt":"x"}', { port: 8710 });
 * // { email: "a@b.c", ..., loginUrl: "http://127.0.0.1:8710/login?token=t" }
 * ```
 */
export function parseUserAdded(
  stdout: string,
  instance: Pick<Instance, "port" | "publicUrl">,
): UserAdded {
  const parsed = lastJson(stdout);
  if (typeof parsed.token !== "string" || typeof parsed.email !== "string") {
    throw new CliError("command_failed", `server/user_admin.ts printed ${JSON.stringify(parsed)}`);
  }
  return {
    email: parsed.email,
    isAdmin: parsed.isAdmin === true,
    created: parsed.created === true,
    loginUrl: `${publicUrlOf(instance)}/login?token=${encodeURIComponent(parsed.token)}`,
    expiresAt: String(parsed.expiresAt),
  };
}

/** Runs `server/user_admin.ts` for one instance; maps a Postgres that does not answer. */
async function runUserAdmin(
  context: WbContext,
  id: string,
  args: string[],
): Promise<{ instance: Instance; output: Record<string, unknown> }> {
  if (id.startsWith("@") || id.startsWith("server=")) {
    throw new UsageError(`'${id}' names a group; wb user takes one instance id`);
  }
  const [instance] = resolveTargets(await loadConfig(context.home), [id]);
  const secrets: Secrets = await ensureSecrets(instance.instanceDir, generateSecrets());
  const runtime = runtimeFor(context, instance);
  const databaseUrl = instance.runtime === "docker" || !runtime.databaseUrl
    ? dockerDatabaseUrl(instance.id, secrets)
    : await runtime.databaseUrl(instance, secrets);
  const step = userStep(instance, databaseUrl, args, context);
  context.reporter.step(step.title);
  const output = await execStep(step, { env: context.env });
  if (output.code === 3) {
    throw new CliError("usage", `'${id}' has no user '${args[1]}'; see \`wb user list ${id}\``);
  }
  if (output.code !== 0) {
    const cause = new CommandFailedError(step.command, step.args, output.code, output.stderr);
    const down = /ECONNREFUSED|ENOENT|connect|unavailable|does not answer|No such file/i.test(
      output.stderr,
    );
    throw new CliError(
      down ? "not_running" : output.code === 2 ? "usage" : "command_failed",
      down
        ? `Postgres of '${id}' does not answer; start it with \`wb run ${id}\`.\n${cause.message}`
        : cause.message,
      { cause },
    );
  }
  return { instance, output: lastJson(output.stdout) };
}

function checkEmail(email: string): string {
  if (!/^[^\s@]+@[^\s@]+$/.test(email.trim())) {
    throw new UsageError(`'${email}' is not an e-mail address`);
  }
  return email.trim();
}

/**
 * `wb user add <id> <email> [--admin|--viewer]`.
 *
 * @param context The context.
 * @param id Instance id.
 * @param email The user's address.
 * @param options `role`: `admin` or `viewer`; unset keeps an existing user's role (a new
 *   user is a viewer).
 * @returns The user and the one-time login link.
 * @throws {UsageError} For a group target or a malformed address.
 * @throws {CliError} Code `not_running` when the instance's Postgres does not answer,
 *   `command_failed` for another failure of the step (its stderr in the message).
 * @example
 * ```ts
 * import { addUser } from "./users.ts";
 * import { consoleReporter } from "./reporter.ts";
 * const context = { home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() };
 * const { loginUrl } = await addUser(context, "demo", "ada@example.org", { role: "admin" });
 * ```
 */
export async function addUser(
  context: WbContext,
  id: string,
  email: string,
  options: { role?: UserRole } = {},
): Promise<UserAdded> {
  const args = ["add", checkEmail(email), ...(options.role ? [`--${options.role}`] : [])];
  const { instance, output } = await runUserAdmin(context, id, args);
  return parseUserAdded(JSON.stringify(output), instance);
}

/**
 * `wb user list <id>`: every user with its live sessions and pending login links.
 *
 * @param context The context.
 * @param id Instance id.
 * @returns The users, by e-mail.
 * @throws {CliError} As {@linkcode addUser}.
 */
export async function listUsers(context: WbContext, id: string): Promise<UserListed[]> {
  const { output } = await runUserAdmin(context, id, ["list"]);
  if (!Array.isArray(output.users)) {
    throw new CliError("command_failed", `server/user_admin.ts printed ${JSON.stringify(output)}`);
  }
  return output.users as UserListed[];
}

/**
 * `wb user revoke <id> <email>`: ends the user's sessions and voids its unused login links;
 * the user stays (a new `wb user add` gives it a new link).
 *
 * @param context The context.
 * @param id Instance id.
 * @param email The user's address.
 * @returns How many sessions and links were removed.
 * @throws {CliError} Code `usage` for an unknown user; otherwise as {@linkcode addUser}.
 */
export async function revokeUser(
  context: WbContext,
  id: string,
  email: string,
): Promise<{ sessions: number; links: number }> {
  const { output } = await runUserAdmin(context, id, ["revoke", checkEmail(email)]);
  return { sessions: Number(output.sessions ?? 0), links: Number(output.links ?? 0) };
}

/**
 * `wb user remove <id> <email>`: deletes the user, its sessions and its login links; its
 * open browser sessions and unused links fail from the next request on.
 *
 * @param context The context.
 * @param id Instance id.
 * @param email The user's address.
 * @throws {CliError} Code `usage` for an unknown user; otherwise as {@linkcode addUser}.
 */
export async function removeUser(context: WbContext, id: string, email: string): Promise<void> {
  await runUserAdmin(context, id, ["remove", checkEmail(email)]);
}
