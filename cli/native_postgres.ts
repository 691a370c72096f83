/**
 * The native Postgres of an instance: where its files go, `initdb`, password (SCRAM)
 * authentication, start on its Unix socket (loopback TCP only with `tcp`), readiness, the
 * `wb` database, stop. Steps come from `native_plan.ts`.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { type Instance, postgresPortOf } from "./instance_schema.ts";
import { CliError, CommandFailedError } from "./errors.ts";
import type { NativeDeps } from "./native_deps.ts";
import { type Ids, processName, verifyPrivateSocket } from "./native_files.ts";
import {
  type NativePaths,
  nativePaths,
  nativePostgresSteps,
  PG_HBA_MARKER,
  pgHbaText,
} from "./native_plan.ts";
import { livePid, readPidFile, tailFile } from "./process.ts";
import { execStep, runStep } from "./runner.ts";
import { writePrivateFile } from "./secrets.ts";

/** Default of `WbContext.postgresFallbackRoot`. */
export const POSTGRES_FALLBACK_ROOT = "/var/lib/wb/postgres";

/** The native Postgres of instances. */
export interface NativePostgres {
  /** Where its files are; with `create`, makes them (as `postgres` when root). */
  locate(instance: Instance, create: boolean): Promise<NativePaths>;
  /** initdb (once), password authentication, start, readiness, database `wb`. */
  start(instance: Instance, password: string): Promise<void>;
  /** Fast shutdown; one that is not running is fine. */
  stop(instance: Instance): Promise<void>;
  /** The postmaster's pid when it runs. */
  pid(instance: Instance): Promise<number | undefined>;
}

/** Adds the tail of `log` to a failed command's message. */
export async function withLogTail(error: unknown, log: string): Promise<never> {
  if (error instanceof CommandFailedError) {
    const tail = await tailFile(log);
    throw new CommandFailedError(
      error.command,
      error.args,
      error.exitCode,
      tail ? `${error.stderr}\n--- ${log} ---\n${tail}` : error.stderr,
      { cause: error },
    );
  }
  throw error;
}

/**
 * Creates the native Postgres module.
 *
 * @param deps Shared native dependencies (`paths` is not used: this module decides them).
 * @returns The module.
 */
export function nativePostgres(deps: Omit<NativeDeps, "paths">): NativePostgres {
  const { reporter, options, root, context } = deps;
  const fallbackRoot = context.postgresFallbackRoot ?? POSTGRES_FALLBACK_ROOT;

  const postgresCanReach = async (dir: string) => {
    const out = await execStep({
      title: "check access",
      command: "runuser",
      args: ["-u", "postgres", "--", "test", "-x", dir],
      cwd: "/",
    });
    return out.code === 0;
  };

  /** A directory only `owner` may use (mode 0700), created when missing. */
  const privateDir = async (dir: string, owner: Ids | undefined) => {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await Deno.chmod(dir, 0o700);
    if (owner) await Deno.chown(dir, owner.uid, owner.gid);
  };

  /** A directory of ours that the Postgres group may traverse (root only): root:pg 0710. */
  const traversableDir = async (dir: string, pg: Ids) => {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await Deno.chown(dir, null, pg.gid);
    await Deno.chmod(dir, 0o710);
  };

  const locate = async (instance: Instance, create: boolean): Promise<NativePaths> => {
    const inPlace = join(instance.instanceDir, "databases", "pg");
    const info = await Deno.lstat(inPlace).catch(() => undefined);
    if (info?.isSymlink) {
      const paths = nativePaths(instance.instanceDir, dirname(await Deno.readLink(inPlace)));
      if (create) await prepare(instance, paths, false);
      return paths;
    }
    if (!create) return nativePaths(instance.instanceDir);
    if (!root) {
      const paths = nativePaths(instance.instanceDir);
      await prepare(instance, paths, false);
      return paths;
    }
    // Root: Postgres runs as `postgres`, which must reach its files. Inside the instance
    // directory that takes group traversal (root:postgres 0710) of the instance directory
    // and every parent being traversable; otherwise (e.g. under /root) its files go to a
    // private directory of the `postgres` user and `databases/pg` links there.
    const pg = await deps.postgresIds();
    const databases = join(instance.instanceDir, "databases");
    if (info) {
      const paths = nativePaths(instance.instanceDir);
      await prepare(instance, paths, true);
      return paths;
    }
    await traversableDir(instance.instanceDir, pg);
    await traversableDir(databases, pg);
    if (await postgresCanReach(databases)) {
      const paths = nativePaths(instance.instanceDir);
      await prepare(instance, paths, true);
      return paths;
    }
    await Deno.chmod(instance.instanceDir, 0o700);
    await Deno.chmod(databases, 0o700);
    const hash = createHash("sha256").update(instance.instanceDir).digest("hex").slice(0, 8);
    const home = join(fallbackRoot, `${instance.id}-${hash}`);
    await Deno.mkdir(fallbackRoot, { recursive: true, mode: 0o711 });
    await Deno.chmod(fallbackRoot, 0o711);
    await privateDir(home, pg);
    const paths = nativePaths(instance.instanceDir, home);
    await Deno.symlink(paths.pgDataDir, inPlace);
    reporter.info(
      `The postgres user cannot reach ${instance.instanceDir}, so Postgres keeps its files in ${home}; ${inPlace} links there.`,
    );
    await prepare(instance, paths, false);
    return paths;
  };

  /** Makes the data, socket and log locations, owned by the Postgres user. */
  const prepare = async (instance: Instance, paths: NativePaths, inPlaceAsRoot: boolean) => {
    const pg = root ? await deps.postgresIds() : undefined;
    if (inPlaceAsRoot && pg) {
      for (const dir of [instance.instanceDir, paths.pgHome, paths.logsDir]) {
        await traversableDir(dir, pg);
      }
    } else {
      await Deno.mkdir(paths.logsDir, { recursive: true, mode: 0o700 });
      if (paths.pgHome !== join(instance.instanceDir, "databases")) {
        await privateDir(paths.pgHome, pg);
      }
    }
    const dataExists = await Deno.stat(paths.pgDataDir).then(() => true, () => false);
    if (!dataExists) await privateDir(paths.pgDataDir, pg);
    await privateDir(paths.pgSocketDir, pg);
    const log = await Deno.open(paths.pgLog, { create: true, append: true, mode: 0o600 });
    log.close();
    await Deno.chmod(paths.pgLog, 0o600);
    if (pg) await Deno.chown(paths.pgLog, pg.uid, pg.gid);
    const logLink = join(paths.logsDir, "postgres.log");
    if (paths.pgLog !== logLink && !(await Deno.lstat(logLink).catch(() => undefined))) {
      await Deno.symlink(paths.pgLog, logLink);
    }
  };

  const steps = (instance: Instance, paths: NativePaths, password: string) =>
    nativePostgresSteps(instance, paths, root, password, context.postgresReadyMs);

  const isRunning = async (instance: Instance, paths: NativePaths) =>
    (await execStep(steps(instance, paths, "").status, options)).code === 0;

  /** Writes wb's pg_hba.conf (SCRAM only), owned by the Postgres user. */
  const writeHba = async (paths: NativePaths) => {
    const path = join(paths.pgDataDir, "pg_hba.conf");
    await writePrivateFile(path, pgHbaText());
    if (root) {
      const pg = await deps.postgresIds();
      await Deno.chown(path, pg.uid, pg.gid);
    }
  };

  const hasPasswordAuth = async (paths: NativePaths) =>
    (await Deno.readTextFile(join(paths.pgDataDir, "pg_hba.conf")).catch(() => ""))
      .startsWith(PG_HBA_MARKER);

  const socketOf = (instance: Instance, paths: NativePaths) =>
    join(paths.pgSocketDir, `.s.PGSQL.${postgresPortOf(instance)}`);

  return {
    locate,

    async start(instance, password) {
      const paths = await locate(instance, true);
      const plan = steps(instance, paths, password);
      const initialised = await Deno.stat(join(paths.pgDataDir, "PG_VERSION")).then(
        () => true,
        () => false,
      );
      if (!initialised) await runStep(plan.initdb, options);
      if (await isRunning(instance, paths)) {
        reporter.info(`Postgres of '${instance.id}' is already running`);
        if (!await hasPasswordAuth(paths)) {
          reporter.warn(
            `Postgres of '${instance.id}' runs with the trust authentication of an older wb; \`wb restart ${instance.id}\` turns on password authentication and moves it to its Unix socket.`,
          );
          return;
        }
      } else {
        if (!await hasPasswordAuth(paths)) {
          // A new cluster (initdb above), or one an older wb made with trust auth.
          await runStep(plan.setPassword, options).catch((e) => withLogTail(e, paths.pgLog));
        }
        await writeHba(paths);
        await runStep(plan.start, options).catch((error) => withLogTail(error, paths.pgLog));
      }
      await runStep(plan.ready, options).catch((error) => withLogTail(error, paths.pgLog));
      const pg = await deps.postgresIds();
      await verifyPrivateSocket(socketOf(instance, paths), pg.uid, `Postgres of '${instance.id}'`);
      const exists = await execStep(plan.databaseExists, options);
      if (exists.code !== 0) {
        throw new CommandFailedError(
          plan.databaseExists.command,
          plan.databaseExists.args,
          exists.code,
          exists.stderr,
        );
      }
      if (exists.stdout.trim() !== "1") await runStep(plan.createDatabase, options);
    },

    async stop(instance) {
      const paths = await locate(instance, false);
      const pid = await readPidFile(join(paths.pgDataDir, "postmaster.pid"));
      if (pid === undefined || !(await isRunning(instance, paths))) {
        reporter.step(`Postgres of '${instance.id}' is not running`);
        return;
      }
      await runStep(steps(instance, paths, "").stop, options).catch((error) =>
        withLogTail(error, paths.pgLog)
      );
    },

    async pid(instance) {
      const paths = await locate(instance, false);
      const pid = await livePid(join(paths.pgDataDir, "postmaster.pid"));
      if (pid === undefined) return undefined;
      const name = await processName(pid);
      return name === undefined || name.startsWith("postgres") ? pid : undefined;
    },
  };
}

/** The error of a Postgres that refuses to run as root without a `postgres` user. */
export function noPostgresUser(): CliError {
  return new CliError(
    "prerequisites",
    "Running as root, but there is no 'postgres' user to run Postgres as",
  );
}
