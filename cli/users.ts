/**
 * `wb user add <instance> <email> [--admin]`: creates a user of the web client in the
 * instance's database (or sets an existing user's admin flag) and prints a one-time login
 * link, `http://127.0.0.1:<port>/login?token=…` (valid 24 h, single use).
 *
 * The work runs where `wb load` runs the loader: `server/user_add.ts` with the instance's
 * `DATABASE_URL`, natively or in a throw-away container of the app image on the instance's
 * network. The steps are data ({@linkcode userAddStep}); only Postgres has to be up.
 *
 * @module
 */
import { join } from "node:path";
import { type Instance, loadConfig, resolveTargets } from "./config.ts";
import { denoPathOf, type WbContext } from "./context.ts";
import { CliError, CommandFailedError, UsageError } from "./errors.ts";
import { nativeDatabaseUrl } from "./native_plan.ts";
import { appImage, dockerDatabaseUrl, INSTANCE_LABEL, type Step } from "./plan.ts";
import { execStep } from "./runner.ts";
import { appUrl } from "./runtime.ts";
import { ensureSecrets, generateSecrets, type Secrets } from "./secrets.ts";

/** Who to add. */
export interface UserRequest {
  email: string;
  /** Administrators may flush the shared cache, run modules, edit, see cache statistics. */
  admin: boolean;
}

/** What `wb user add` did. */
export interface UserAdded {
  email: string;
  isAdmin: boolean;
  /** `false`: the user existed (its admin flag is now the one asked for). */
  created: boolean;
  /** The one-time login link. */
  loginUrl: string;
  /** When the link expires (ISO-8601). */
  expiresAt: string;
}

/**
 * The step that creates the user: `deno run -A server/user_add.ts <email> [--admin]` with the
 * instance's `DATABASE_URL`, on the host (native) or in the app image (docker).
 *
 * @example
 * ```ts
 * import { userAddStep } from "./users.ts";
 * const instance = { id: "demo", port: 8710, runtime: "native" } as never;
 * const step = userAddStep(instance, { adminToken: "a", postgresPassword: "p", redisPassword: "r" },
 *   { email: "ada@example.org", admin: true }, { repoRoot: "/repo", denoPath: "deno" });
 * step.args; // ["run", "-A", "/repo/server/user_add.ts", "ada@example.org", "--admin"]
 * ```
 */
export function userAddStep(
  instance: Instance,
  secrets: Secrets,
  request: UserRequest,
  context: Pick<WbContext, "repoRoot" | "denoPath">,
): Step {
  const args = [request.email, ...(request.admin ? ["--admin"] : [])];
  if (instance.runtime === "docker") {
    return {
      title: `Add user ${request.email} to ${instance.id}`,
      command: "docker",
      args: [
        "run",
        "--rm",
        "--network",
        instance.id,
        "--label",
        `${INSTANCE_LABEL}=${instance.id}`,
        "-e",
        "DATABASE_URL",
        appImage(instance),
        "deno",
        "run",
        "-A",
        "server/user_add.ts",
        ...args,
      ],
      env: { DATABASE_URL: dockerDatabaseUrl(instance.id, secrets) },
    };
  }
  return {
    title: `Add user ${request.email} to ${instance.id}`,
    command: denoPathOf(context),
    args: ["run", "-A", join(context.repoRoot, "server", "user_add.ts"), ...args],
    env: { DATABASE_URL: nativeDatabaseUrl(instance), DENO_NO_UPDATE_CHECK: "1" },
    cwd: context.repoRoot,
  };
}

/**
 * Reads `server/user_add.ts`'s JSON line and makes the login link.
 *
 * @throws {CliError} Code `command_failed` when the output is not the expected JSON.
 * @example
 * ```ts
 * import { parseUserAdded } from "./users.ts";
 * parseUserAdded('{"email":"a@b.c","isAdmin":false,"created":true,"token":"t","expiresAt":"x"}', { port: 8710 });
 * // { email: "a@b.c", ..., loginUrl: "http://127.0.0.1:8710/login?token=t" }
 * ```
 */
export function parseUserAdded(stdout: string, instance: Pick<Instance, "port">): UserAdded {
  const line = stdout.trim().split("\n").pop() ?? "";
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new CliError("command_failed", `server/user_add.ts printed no JSON: ${line}`);
  }
  if (typeof parsed.token !== "string" || typeof parsed.email !== "string") {
    throw new CliError("command_failed", `server/user_add.ts printed ${line}`);
  }
  return {
    email: parsed.email,
    isAdmin: parsed.isAdmin === true,
    created: parsed.created === true,
    loginUrl: `${appUrl(instance)}/login?token=${encodeURIComponent(parsed.token)}`,
    expiresAt: String(parsed.expiresAt),
  };
}

/**
 * `wb user add <id> <email> [--admin]`.
 *
 * @returns The user and the one-time login link.
 * @throws {UsageError} For a group target or a malformed address.
 * @throws {CliError} Code `not_running` when the instance's Postgres does not answer,
 *   `command_failed` for another failure of the step (its stderr in the message).
 * @example
 * ```ts
 * import { addUser } from "./users.ts";
 * import { consoleReporter } from "./reporter.ts";
 * const context = { home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() };
 * const { loginUrl } = await addUser(context, "demo", "ada@example.org", { admin: true });
 * ```
 */
export async function addUser(
  context: WbContext,
  id: string,
  email: string,
  options: { admin?: boolean } = {},
): Promise<UserAdded> {
  if (id.startsWith("@") || id.startsWith("server=")) {
    throw new UsageError(`'${id}' names a group; wb user add takes one instance id`);
  }
  if (!/^[^\s@]+@[^\s@]+$/.test(email.trim())) {
    throw new UsageError(`'${email}' is not an e-mail address`);
  }
  const [instance] = resolveTargets(await loadConfig(context.home), [id]);
  const secrets = await ensureSecrets(instance.instanceDir, generateSecrets());
  const step = userAddStep(instance, secrets, { email, admin: options.admin ?? false }, context);
  context.reporter.step(step.title);
  const output = await execStep(step, { env: context.env });
  if (output.code !== 0) {
    const cause = new CommandFailedError(step.command, step.args, output.code, output.stderr);
    const down = /ECONNREFUSED|connect|unavailable|does not answer/i.test(output.stderr);
    throw new CliError(
      down ? "not_running" : "command_failed",
      down
        ? `Postgres of '${id}' does not answer; start it with \`wb run ${id}\`.\n${cause.message}`
        : cause.message,
      { cause },
    );
  }
  return parseUserAdded(output.stdout, instance);
}
