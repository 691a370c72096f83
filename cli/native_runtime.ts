/**
 * The native runtime: Postgres (`native_postgres.ts`), Redis (`native_redis.ts`) and the
 * app (`native_app.ts`) as processes of this machine, with their files in the instance
 * directory (private to its owner: 0700 directories, 0600 files) and Postgres and Redis on
 * Unix sockets there. This module joins the three into the {@linkcode Runtime} contract;
 * the order comes from `plan.ts`, the argv from `native_plan.ts`
 * and `native_app_plan.ts`.
 *
 * @module
 */

import { join } from "node:path";
import { appEnvRecord } from "../server/env_contract.ts";
import { type Instance, postgresPortOf, redisPortOf } from "./instance_schema.ts";
import { denoPathOf, isRoot, type WbContext } from "./context.ts";
import { countWith } from "./docker_runtime.ts";
import { CliError } from "./errors.ts";
import { nativeApp } from "./native_app.ts";
import type { NativeDeps } from "./native_deps.ts";
import { type Ids, portHolder, securePrivateTree } from "./native_files.ts";
import {
  nativeCountStep,
  type NativePaths,
  nativePaths,
  nativeRedisCliStep,
  nativeRedisSteps,
  socketPathProblems,
} from "./native_plan.ts";
import { nativeDatabaseUrl, nativeRedisUrl } from "./native_app_plan.ts";
import { nativePostgres, noPostgresUser, POSTGRES_FALLBACK_ROOT } from "./native_postgres.ts";
import { nativeRedis } from "./native_redis.ts";
import { COUNT_FACILITIES_SQL, loaderArgs, servicesOf, type Step } from "./plan.ts";
import { parseRedisInfo } from "./redis_config.ts";
import { execStep, type RunOptions, runStep } from "./runner.ts";
import { instanceStatus, parseCount, type Runtime, type ServiceState } from "./runtime.ts";
import { readSecrets } from "./secrets.ts";

export { nativeAppCommand } from "./native_app.ts";
export { POSTGRES_FALLBACK_ROOT };

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
  const uid = context.uid ?? Deno.uid() ?? 0;
  let postgresIds: Ids | undefined;
  const base = {
    context,
    reporter,
    options,
    root,
    uid,
    async postgresIds(): Promise<Ids> {
      if (postgresIds) return postgresIds;
      if (!root) return postgresIds = { uid, gid: Deno.gid() ?? uid };
      const id = async (flag: string) => {
        const out = await execStep({ title: "id", command: "id", args: [flag, "postgres"] });
        if (out.code !== 0) throw noPostgresUser();
        return Number(out.stdout.trim());
      };
      return postgresIds = { uid: await id("-u"), gid: await id("-g") };
    },
  };
  const postgres = nativePostgres(base);
  const deps: NativeDeps = { ...base, paths: (i, create) => postgres.locate(i, create) };
  const redis = nativeRedis(deps);
  const app = nativeApp(deps);

  /** Every file of the instance private to its owner (instances of older wb had 0644). */
  const secure = async (instance: Instance, paths: NativePaths) => {
    const inPlace = paths.pgHome === join(instance.instanceDir, "databases");
    const pg = root && inPlace ? await base.postgresIds() : undefined;
    await securePrivateTree(instance.instanceDir, {
      skip: [paths.pgDataDir, paths.pgSocketDir, join(instance.instanceDir, "databases", "pg")],
      ...(pg
        ? {
          traversableBy: {
            gid: pg.gid,
            dirs: [instance.instanceDir, paths.pgHome, paths.logsDir],
          },
        }
        : {}),
    });
  };

  const ownPids = async (instance: Instance) =>
    [await app.pid(instance), await redis.pid(instance), await postgres.pid(instance)]
      .filter((p): p is number => p !== undefined);

  return {
    async start(instance, service, secrets) {
      switch (service) {
        case "network":
          return;
        case "postgres": {
          const paths = await postgres.locate(instance, true);
          await secure(instance, paths);
          await app.startRotation(instance);
          return await postgres.start(instance, secrets.postgresPassword);
        }
        case "redis":
          return await redis.start(instance, secrets.redisPassword);
        case "admin":
          reporter.warn(
            `'${instance.id}' has adminVersion ${instance.adminVersion}, but the native runtime has no admin service; skipped.`,
          );
          return;
        case "app":
          return await app.start(instance, secrets);
      }
    },

    async stop(instance, service) {
      switch (service) {
        case "network":
        case "admin":
          return;
        case "postgres":
          await postgres.stop(instance);
          return await app.stopRotation(instance);
        case "redis":
          return await redis.stop(instance);
        case "app":
          return await app.stop(instance);
      }
    },

    async status(instance) {
      const paths = await postgres.locate(instance, false);
      const [pgPid, redisPid, appPid] = [
        await postgres.pid(instance),
        await redis.pid(instance),
        await app.pid(instance),
      ];
      const where = (socket: string, port: number) =>
        instance.tcp ? `${socket}, 127.0.0.1:${port}` : socket;
      const state = (pid: number | undefined, at: string): Omit<ServiceState, "service"> =>
        pid === undefined
          ? { running: false, state: "stopped", detail: at }
          : { running: true, state: "running", detail: `pid ${pid}, ${at}` };
      const services = servicesOf(instance).map((service): ServiceState => {
        switch (service) {
          case "network":
            return { service, running: true, state: "present", detail: "loopback (native)" };
          case "postgres":
            return {
              service,
              ...state(pgPid, where(paths.pgSocketDir, postgresPortOf(instance))),
            };
          case "redis":
            return { service, ...state(redisPid, where(paths.redisSocket, redisPortOf(instance))) };
          case "admin":
            return {
              service,
              running: false,
              state: "absent",
              detail: "not supported by the native runtime",
            };
          case "app":
            return { service, ...state(appPid, `127.0.0.1:${instance.port}`) };
        }
      });
      return await instanceStatus(this, instance, services);
    },

    async redisKeyCount(instance) {
      const out = await redis.cli(
        instance,
        (p) => nativeRedisCliStep(paths(instance), p, "DBSIZE", ["DBSIZE"]),
      );
      return out?.code === 0 && /^\d+$/.test(out.stdout.trim())
        ? parseCount(out.stdout)
        : undefined;
    },

    async redisInfo(instance) {
      const out = await redis.cli(
        instance,
        (p) => nativeRedisCliStep(paths(instance), p, "INFO", ["INFO"]),
      );
      return out?.code === 0 ? parseRedisInfo(out.stdout) : undefined;
    },

    async flushRedis(instance) {
      const out = await redis.cli(
        instance,
        (p) => nativeRedisSteps(instance, paths(instance), p).flush,
      );
      if (out === undefined) {
        throw new CliError("not_running", `Redis of '${instance.id}' is not running`);
      }
      if (out.code !== 0 || !out.stdout.startsWith("OK")) {
        throw new CliError("command_failed", `FLUSHDB failed: ${out.stdout}${out.stderr}`);
      }
    },

    async rollback(instance) {
      const status = await this.status(instance);
      const stopped: string[] = [];
      for (const service of ["app", "redis", "postgres"] as const) {
        if (!status.services.find((s) => s.service === service)?.running) continue;
        await this.stop(instance, service);
        stopped.push(`stopped ${service}`);
      }
      await app.stopRotation(instance);
      return stopped;
    },

    async logsStep(instance, service, logsOptions) {
      const [file] = (await this.logFiles!(instance, service)).slice(-1);
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

    async logFiles(instance, service) {
      const located = await postgres.locate(instance, false);
      const file = service === "app"
        ? located.appLog
        : service === "redis"
        ? located.redisLog
        : service === "postgres"
        ? located.pgLog
        : undefined;
      if (file === undefined) {
        throw new CliError(
          "usage",
          `The native runtime has no ${service} log; use app, redis or postgres`,
        );
      }
      const rotated: string[] = [];
      for (let n = 9; n >= 1; n--) {
        if (await Deno.stat(`${file}.${n}`).then(() => true, () => false)) {
          rotated.push(`${file}.${n}`);
        }
      }
      return [...rotated, file];
    },

    async redisCliStep(instance, args) {
      const secrets = await readSecrets(instance.instanceDir);
      return nativeRedisCliStep(paths(instance), secrets.redisPassword, "redis-cli", args);
    },

    async countFacilities(instance) {
      const secrets = await readSecrets(instance.instanceDir);
      const located = await postgres.locate(instance, false);
      return await countWith(
        instance,
        nativeCountStep(instance, located, secrets.postgresPassword, COUNT_FACILITIES_SQL),
        context.env,
      );
    },

    async load(instance, secrets, loadOptions) {
      const located = await postgres.locate(instance, false);
      const [command, ...args] = loaderCommand(context);
      const step: Step = {
        title: `Load data into '${instance.id}'`,
        command,
        args: [...args, ...loaderArgs(loadOptions)],
        env: appEnvRecord({
          databaseUrl: nativeDatabaseUrl(instance, located, secrets.postgresPassword),
          redisUrl: nativeRedisUrl(located, secrets.redisPassword),
          instance: instance.id,
        }),
        cwd: context.repoRoot,
      };
      await runStep(step, { ...options, echo: context.echoLoader });
    },

    async databaseUrl(instance, secrets) {
      const located = await postgres.locate(instance, false);
      return nativeDatabaseUrl(instance, located, secrets.postgresPassword);
    },

    async preflight(instance) {
      const problems: string[] = [];
      const located = await postgres.locate(instance, false);
      problems.push(...socketPathProblems(instance, located));
      const pids = await ownPids(instance);
      const ports: [number, string][] = [[instance.port, "app"]];
      if (instance.tcp) {
        ports.push([postgresPortOf(instance), "Postgres"], [redisPortOf(instance), "Redis"]);
      }
      for (const [port, role] of ports) {
        const held = await portHolder(port, pids);
        if (held.holder === "foreign") {
          problems.push(
            `${role} port ${port} is held by another program (uid ${held.uid}), not by '${instance.id}'`,
          );
        }
      }
      for (
        const program of [
          "pg_ctl",
          "initdb",
          "postgres",
          "pg_isready",
          "psql",
          "redis-server",
          "redis-cli",
        ]
      ) {
        const found = await execStep({
          title: "which",
          command: "sh",
          args: ["-c", `command -v ${program}`],
        });
        if (found.code !== 0) problems.push(`'${program}' is not on PATH`);
      }
      if (root) {
        await base.postgresIds().catch((error) => problems.push((error as Error).message));
      }
      return problems;
    },
  };

  /** Paths of Redis and the app, which are always inside the instance directory. */
  function paths(instance: Instance): NativePaths {
    return nativePaths(instance.instanceDir);
  }
}
