/**
 * The native runtime: Postgres (`initdb`/`pg_ctl`), Redis (`redis-server`, AOF on) and
 * the app as a detached process, all on loopback ports, with their files in the instance
 * directory. Executes the steps of `native_plan.ts` in the order of `plan.ts`.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { type Instance, postgresPortOf, redisPortOf, workersOf } from "./config.ts";
import { denoPathOf, isRoot, type WbContext } from "./context.ts";
import { countWith } from "./docker_runtime.ts";
import { CliError, CommandFailedError, ReadinessTimeoutError } from "./errors.ts";
import {
  nativeAppEnv,
  nativeCountStep,
  nativeDatabaseUrl,
  type NativePaths,
  nativePaths,
  nativePostgresSteps,
  nativeRedisCliStep,
  nativeRedisListen,
  nativeRedisSteps,
} from "./native_plan.ts";
import {
  COUNT_FACILITIES_SQL,
  loaderArgs,
  REDIS_DOWN_HINT,
  servicesOf,
  type Step,
} from "./plan.ts";
import { parseRedisInfo, redisUrl, writeRedisConfig } from "./redis_config.ts";
import {
  isPortFree,
  livePid,
  probeHttp,
  readPidFile,
  tailFile,
  terminate,
  waitForExit,
} from "./process.ts";
import { execStep, type RunOptions, runStep, sleep } from "./runner.ts";
import {
  appUrl,
  instanceStatus,
  parseCount,
  redisPasswordOf,
  type Runtime,
  type ServiceState,
} from "./runtime.ts";
import type { Secrets } from "./secrets.ts";

/** Default of {@linkcode WbContext.postgresFallbackRoot}. */
export const POSTGRES_FALLBACK_ROOT = "/var/lib/wb/postgres";

/**
 * The app's command line of the native runtime: one process (`deno run server/main.ts`),
 * or with `workers` above 1, `deno serve --parallel server/serve.ts` on the instance's port
 * (the worker count goes in `DENO_JOBS`, see `nativeAppEnv`).
 *
 * @param context The context (`appCommand` overrides the default).
 * @param instance The instance (its port and worker count). @default {one worker}
 * @returns `[deno, "run", "-A", "<repo>/server/main.ts"]` unless overridden or parallel.
 * @example
 * ```ts
 * import { nativeAppCommand } from "./native_runtime.ts";
 * nativeAppCommand({ repoRoot: "/repo", denoPath: "deno" } as never);
 * nativeAppCommand({ repoRoot: "/repo", denoPath: "deno" } as never, { port: 8710, workers: 4 });
 * // ["deno", "serve", "-A", "--parallel", "--port", "8710", "--host", "0.0.0.0", "/repo/server/serve.ts"]
 * ```
 */
export function nativeAppCommand(
  context: Pick<WbContext, "appCommand" | "repoRoot" | "denoPath">,
  instance?: Pick<Instance, "port" | "workers">,
): string[] {
  if (context.appCommand) return context.appCommand;
  const deno = denoPathOf(context);
  if (!instance || workersOf(instance) <= 1) {
    return [deno, "run", "-A", join(context.repoRoot, "server", "main.ts")];
  }
  return [
    deno,
    "serve",
    "-A",
    "--parallel",
    "--port",
    String(instance.port),
    "--host",
    "0.0.0.0",
    join(context.repoRoot, "server", "serve.ts"),
  ];
}

/**
 * The loader's command line (without its options).
 *
 * @param context The context (`loaderCommand` overrides the default).
 * @returns `[deno, "run", "-A", "<repo>/server/load.ts"]` unless overridden.
 * @example
 * ```ts
 * import { loaderCommand } from "./native_runtime.ts";
 * loaderCommand({ repoRoot: "/repo", denoPath: "deno" } as never);
 * ```
 */
export function loaderCommand(
  context: Pick<WbContext, "loaderCommand" | "repoRoot" | "denoPath">,
): string[] {
  return context.loaderCommand ??
    [denoPathOf(context), "run", "-A", join(context.repoRoot, "server", "load.ts")];
}

/**
 * Creates the native runtime.
 *
 * @param context Repo root, reporter, app command, timeouts.
 * @returns The runtime.
 * @example
 * ```ts
 * import { nativeRuntime } from "./native_runtime.ts";
 * import { memoryReporter } from "./reporter.ts";
 * const runtime = nativeRuntime({ home: "/tmp/wb", repoRoot: ".", reporter: memoryReporter() });
 * ```
 */
export function nativeRuntime(context: WbContext): Runtime {
  const reporter = context.reporter;
  // Readiness polls (pg_isready, PING) are cheap; a short pause keeps restarts quick.
  const options: RunOptions = { env: context.env, reporter, retryIntervalMs: 100 };
  const root = isRoot(context);
  const fallbackRoot = context.postgresFallbackRoot ?? POSTGRES_FALLBACK_ROOT;
  let postgresIds: { uid: number; gid: number } | undefined;

  const postgresUser = async () => {
    if (!postgresIds) {
      const id = async (flag: string) => {
        const out = await execStep({ title: "id", command: "id", args: [flag, "postgres"] });
        if (out.code !== 0) {
          throw new CliError(
            "prerequisites",
            "Running as root, but there is no 'postgres' user to run Postgres as",
          );
        }
        return Number(out.stdout.trim());
      };
      postgresIds = { uid: await id("-u"), gid: await id("-g") };
    }
    return postgresIds;
  };

  const giveToPostgres = async (path: string) => {
    if (!root) return;
    const { uid, gid } = await postgresUser();
    await Deno.chown(path, uid, gid);
  };

  /** Where Postgres' files are; with `create`, makes them (as `postgres` when root). */
  const postgresPaths = async (instance: Instance, create: boolean): Promise<NativePaths> => {
    const inPlace = join(instance.instanceDir, "databases", "pg");
    const info = await Deno.lstat(inPlace).catch(() => undefined);
    let paths: NativePaths;
    if (info?.isSymlink) {
      paths = nativePaths(instance.instanceDir, dirname(await Deno.readLink(inPlace)));
    } else if (
      info || !create || !root || await postgresCanReach(join(instance.instanceDir, "databases"))
    ) {
      paths = nativePaths(instance.instanceDir);
    } else {
      const hash = createHash("sha256").update(instance.instanceDir).digest("hex").slice(0, 8);
      const home = join(fallbackRoot, `${instance.id}-${hash}`);
      await Deno.mkdir(home, { recursive: true, mode: 0o755 });
      paths = nativePaths(instance.instanceDir, home);
      reporter.info(
        `The postgres user cannot reach ${instance.instanceDir}, so Postgres keeps its files in ${home}; ${inPlace} links there.`,
      );
    }
    if (!create) return paths;
    await Deno.mkdir(paths.logsDir, { recursive: true });
    for (const dir of [paths.pgDataDir, paths.pgSocketDir]) {
      await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
      await giveToPostgres(dir);
    }
    if (paths.pgDataDir !== inPlace && !info) await Deno.symlink(paths.pgDataDir, inPlace);
    await Deno.writeTextFile(paths.pgLog, "", { append: true });
    await giveToPostgres(paths.pgLog);
    const logLink = join(paths.logsDir, "postgres.log");
    if (paths.pgLog !== logLink && !(await Deno.lstat(logLink).catch(() => undefined))) {
      await Deno.symlink(paths.pgLog, logLink);
    }
    return paths;
  };

  const postgresCanReach = async (dir: string) => {
    const out = await execStep({
      title: "check access",
      command: "runuser",
      args: ["-u", "postgres", "--", "test", "-x", dir],
      cwd: "/",
    });
    return out.code === 0;
  };

  const withLog = async (error: unknown, log: string): Promise<never> => {
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
  };

  const redisSteps = (instance: Instance, password: string) =>
    nativeRedisSteps(instance, nativePaths(instance.instanceDir), password, context.redisReadyMs);

  /** Runs one authenticated redis-cli command; `undefined` when there is no password yet. */
  const redisCli = async (instance: Instance, step: (p: string) => Step) => {
    const password = await redisPasswordOf(instance);
    return password === undefined ? undefined : await execStep(step(password), options);
  };

  const redisAnswers = async (instance: Instance, password?: string) => {
    const out = await execStep(
      password === undefined
        ? {
          title: "PING",
          command: "redis-cli",
          args: ["-h", "127.0.0.1", "-p", String(redisPortOf(instance)), "PING"],
        }
        : redisSteps(instance, password).ping,
      options,
    );
    return out.code === 0 && out.stdout.trim() === "PONG";
  };

  /** The app's pid, if the pid file names a live process of this instance. */
  const appPid = async (instance: Instance, paths: NativePaths) => {
    const pid = await livePid(paths.appPidFile);
    if (pid === undefined) return undefined;
    const environ = await Deno.readTextFile(`/proc/${pid}/environ`).catch(() => undefined);
    // A reused pid (another program) is a stale pid file.
    if (environ !== undefined && !environ.split("\0").includes(`WB_INSTANCE=${instance.id}`)) {
      return undefined;
    }
    return pid;
  };

  const waitHealthy = async (
    instance: Instance,
    paths: NativePaths,
    pid: number,
    exited: () => Deno.CommandStatus | undefined,
  ) => {
    const url = `${appUrl(instance)}/healthz`;
    const timeoutMs = context.healthTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    reporter.step(`Wait for ${url}`);
    while (true) {
      const status = exited();
      if (status) {
        await Deno.remove(paths.appPidFile).catch(() => {});
        throw new ReadinessTimeoutError(
          `The app of '${instance.id}' exited (code ${status.code}) before answering ${url}`,
          await tailFile(paths.appLog),
        );
      }
      if ((await probeHttp(url, 2_000)).ok) return;
      if (Date.now() >= deadline) {
        await terminate(pid, 5_000);
        await Deno.remove(paths.appPidFile).catch(() => {});
        throw new ReadinessTimeoutError(
          `The app of '${instance.id}' did not answer ${url} with 200 within ${
            timeoutMs / 1000
          } s (stopped it; log: ${paths.appLog})`,
          await tailFile(paths.appLog),
        );
      }
      await sleep(100);
    }
  };

  const startPostgres = async (instance: Instance) => {
    const paths = await postgresPaths(instance, true);
    const steps = nativePostgresSteps(instance, paths, root, context.postgresReadyMs);
    const initialised = await Deno.stat(join(paths.pgDataDir, "PG_VERSION")).then(
      () => true,
      () => false,
    );
    if (!initialised) await runStep(steps.initdb, options);
    if ((await execStep(steps.status, options)).code === 0) {
      reporter.info(`Postgres of '${instance.id}' is already running`);
    } else {
      await runStep(steps.start, options).catch((error) => withLog(error, paths.pgLog));
    }
    await runStep(steps.ready, options).catch((error) => withLog(error, paths.pgLog));
    const exists = await execStep(steps.databaseExists, options);
    if (exists.stdout.trim() !== "1") await runStep(steps.createDatabase, options);
  };

  const stopPostgres = async (instance: Instance) => {
    const paths = await postgresPaths(instance, false);
    const steps = nativePostgresSteps(instance, paths, root);
    const pid = await readPidFile(join(paths.pgDataDir, "postmaster.pid"));
    if (pid === undefined || (await execStep(steps.status, options)).code !== 0) {
      reporter.step(`Postgres of '${instance.id}' is not running`);
      return;
    }
    await runStep(steps.stop, options).catch((error) => withLog(error, paths.pgLog));
  };

  const startRedis = async (instance: Instance, password: string) => {
    const paths = nativePaths(instance.instanceDir);
    const steps = redisSteps(instance, password);
    const running = await livePid(paths.redisPidFile);
    if (running !== undefined && await redisAnswers(instance, password)) {
      reporter.info(`Redis of '${instance.id}' is already running (pid ${running})`);
      if (await redisAnswers(instance)) {
        reporter.warn(
          `Redis of '${instance.id}' accepts connections without a password (started by an older wb); \`wb restart ${instance.id}\` applies the password and the profile.`,
        );
      }
      return;
    }
    if (running === undefined && await redisAnswers(instance, password)) {
      reporter.warn(
        `Something not started by wb answers PING on Redis port ${
          redisPortOf(instance)
        }; the app will use it.`,
      );
      return;
    }
    await Deno.mkdir(paths.redisDir, { recursive: true });
    await Deno.mkdir(paths.logsDir, { recursive: true });
    await writeRedisConfig(paths.redisConf, instance, nativeRedisListen(instance, paths), password);
    const started = await runStep(
      { ...steps.start, optional: true, hint: REDIS_DOWN_HINT },
      options,
    );
    if (started.status === "warned") return;
    const ping = await runStep({ ...steps.ping, optional: true, hint: REDIS_DOWN_HINT }, options);
    if (ping.status === "warned") {
      const tail = await tailFile(paths.redisLog);
      if (tail) reporter.warn(`Last lines of ${paths.redisLog}:\n${tail}`);
    }
  };

  const stopRedis = async (instance: Instance) => {
    const paths = nativePaths(instance.instanceDir);
    const pid = await livePid(paths.redisPidFile);
    const password = await redisPasswordOf(instance);
    if (pid === undefined) {
      if (await redisAnswers(instance, password)) {
        reporter.warn(
          `A Redis not started by wb answers on port ${redisPortOf(instance)}; leaving it alone.`,
        );
      } else {
        reporter.step(`Redis of '${instance.id}' is not running`);
      }
      return;
    }
    const shutdown = password === undefined
      ? nativeRedisCliStep(instance, "", "Stop Redis", ["shutdown"])
      : redisSteps(instance, password).shutdown;
    await runStep({ ...shutdown, optional: true }, options);
    if (!await waitForExit(pid, 10_000)) await terminate(pid, 5_000);
  };

  const startApp = async (instance: Instance, secrets: Secrets) => {
    const paths = nativePaths(instance.instanceDir);
    await Deno.mkdir(paths.logsDir, { recursive: true });
    const running = await appPid(instance, paths);
    if (running !== undefined) {
      reporter.info(`The app of '${instance.id}' is already running (pid ${running})`);
      await waitHealthy(instance, paths, running, () => undefined);
      return;
    }
    await Deno.remove(paths.appPidFile).catch(() => {});
    if (!isPortFree(instance.port)) {
      throw new CliError(
        "config",
        `Port ${instance.port} of '${instance.id}' is in use by another program; free it or change the port in servers.json`,
      );
    }
    const command = nativeAppCommand(context, instance);
    const workers = workersOf(instance);
    reporter.step(
      `Start the app of '${instance.id}' on port ${instance.port}${
        workers > 1 ? ` (${workers} workers)` : ""
      } (log: ${paths.appLog})`,
    );
    const child = new Deno.Command("sh", {
      args: ["-c", 'log="$1"; shift; exec "$@" >>"$log" 2>&1', "sh", paths.appLog, ...command],
      env: { ...context.env, ...nativeAppEnv(instance, secrets) },
      cwd: context.repoRoot,
      stdin: "null",
      stdout: "null",
      stderr: "null",
      detached: true,
    }).spawn();
    child.unref();
    let exited: Deno.CommandStatus | undefined;
    child.status.then((status) => exited = status);
    await Deno.writeTextFile(paths.appPidFile, `${child.pid}\n`);
    await waitHealthy(instance, paths, child.pid, () => exited);
  };

  const stopApp = async (instance: Instance) => {
    const paths = nativePaths(instance.instanceDir);
    const pid = await appPid(instance, paths);
    if (pid === undefined) {
      reporter.step(`The app of '${instance.id}' is not running`);
    } else {
      reporter.step(`Stop the app of '${instance.id}' (pid ${pid})`);
      const how = await terminate(pid, 10_000);
      if (how === "kill") {
        reporter.warn(`The app of '${instance.id}' ignored SIGTERM for 10 s; killed it`);
      }
    }
    await Deno.remove(paths.appPidFile).catch(() => {});
  };

  return {
    async start(instance, service, secrets) {
      switch (service) {
        case "network":
          return;
        case "postgres":
          return await startPostgres(instance);
        case "redis":
          return await startRedis(instance, secrets.redisPassword);
        case "admin":
          reporter.warn(
            `'${instance.id}' has adminVersion ${instance.adminVersion}, but the native runtime has no admin service; skipped.`,
          );
          return;
        case "app":
          return await startApp(instance, secrets);
      }
    },

    async stop(instance, service) {
      switch (service) {
        case "network":
        case "admin":
          return;
        case "postgres":
          return await stopPostgres(instance);
        case "redis":
          return await stopRedis(instance);
        case "app":
          return await stopApp(instance);
      }
    },

    async status(instance) {
      const paths = await postgresPaths(instance, false);
      const pgPid = await livePid(join(paths.pgDataDir, "postmaster.pid"));
      const redisPid = await livePid(paths.redisPidFile);
      const app = await appPid(instance, paths);
      const state = (pid: number | undefined, port: number): Omit<ServiceState, "service"> =>
        pid === undefined
          ? { running: false, state: "stopped", detail: `port ${port}` }
          : { running: true, state: "running", detail: `pid ${pid}, port ${port}` };
      const services = servicesOf(instance).map((service): ServiceState => {
        switch (service) {
          case "network":
            return { service, running: true, state: "present", detail: "loopback (native)" };
          case "postgres":
            return { service, ...state(pgPid, postgresPortOf(instance)) };
          case "redis":
            return { service, ...state(redisPid, redisPortOf(instance)) };
          case "admin":
            return {
              service,
              running: false,
              state: "absent",
              detail: "not supported by the native runtime",
            };
          case "app":
            return { service, ...state(app, instance.port) };
        }
      });
      return await instanceStatus(this, instance, services);
    },

    async redisKeyCount(instance) {
      const out = await redisCli(instance, (p) => redisSteps(instance, p).dbsize);
      return out?.code === 0 && /^\d+$/.test(out.stdout.trim())
        ? parseCount(out.stdout)
        : undefined;
    },

    async redisInfo(instance) {
      const out = await redisCli(instance, (p) => redisSteps(instance, p).info);
      return out?.code === 0 ? parseRedisInfo(out.stdout) : undefined;
    },

    async flushRedis(instance) {
      const password = await redisPasswordOf(instance);
      if (password === undefined) {
        throw new CliError("config", `'${instance.id}' has no secrets yet; run it once first`);
      }
      await runStep(redisSteps(instance, password).flush, options);
    },

    async rollback(instance) {
      const status = await this.status(instance);
      const stopped: string[] = [];
      for (const service of ["app", "redis", "postgres"] as const) {
        if (!status.services.find((s) => s.service === service)?.running) continue;
        await this.stop(instance, service);
        stopped.push(`stopped ${service}`);
      }
      return stopped;
    },

    async logsStep(instance, service, logsOptions) {
      const paths = await postgresPaths(instance, false);
      const file = service === "app"
        ? paths.appLog
        : service === "redis"
        ? paths.redisLog
        : service === "postgres"
        ? paths.pgLog
        : undefined;
      if (file === undefined) {
        throw new CliError(
          "usage",
          `The native runtime has no ${service} log; use app, redis or postgres`,
        );
      }
      return {
        title: `Log ${file}`,
        command: "tail",
        args: [
          "-n",
          logsOptions.tailLines === undefined ? "+1" : String(logsOptions.tailLines),
          ...(logsOptions.follow ? ["-F"] : []),
          file,
        ],
      };
    },

    async redisCliStep(instance, args) {
      const password = await redisPasswordOf(instance);
      if (password === undefined) {
        throw new CliError("config", `'${instance.id}' has no secrets yet; run it once first`);
      }
      return nativeRedisCliStep(instance, password, "redis-cli", args);
    },

    async countFacilities(instance) {
      return await countWith(
        instance,
        nativeCountStep(instance, COUNT_FACILITIES_SQL),
        context.env,
      );
    },

    async load(instance, secrets, loadOptions) {
      const [command, ...args] = loaderCommand(context);
      const step: Step = {
        title: `Load data into '${instance.id}'`,
        command,
        args: [...args, ...loaderArgs(loadOptions)],
        env: {
          DATABASE_URL: nativeDatabaseUrl(instance),
          REDIS_URL: redisUrl("127.0.0.1", redisPortOf(instance), secrets.redisPassword),
          WB_INSTANCE: instance.id,
        },
        cwd: context.repoRoot,
      };
      await runStep(step, { ...options, echo: context.echoLoader });
    },
  };
}
