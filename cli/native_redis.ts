/**
 * The native Redis of an instance: its generated config, started by `wb` (never one it did
 * not start), on a Unix socket inside `<instanceDir>/redis` (mode 0700) and on loopback TCP
 * only with `tcp`; the password is sent only after the socket's owner is checked.
 *
 * @module
 */

import { type Instance, redisPortOf } from "./instance_schema.ts";
import { CliError, ReadinessTimeoutError } from "./errors.ts";
import type { NativeDeps } from "./native_deps.ts";
import { portHolder, processName, processUid, verifyPrivateSocket } from "./native_files.ts";
import {
  type NativePaths,
  nativeRedisCliStep,
  nativeRedisListen,
  nativeRedisSteps,
} from "./native_plan.ts";
import { REDIS_DOWN_HINT, redisStarted, type Step } from "./plan.ts";
import { livePid, tailFile, terminate, waitForExit } from "./process.ts";
import { writeRedisConfig } from "./redis_config.ts";
import { execStep, runStep, sleep, type StepOutput } from "./runner.ts";
import { redisPasswordOf } from "./runtime.ts";

/** The native Redis of instances. */
export interface NativeRedis {
  /**
   * Starts Redis and waits for PING; a failure warns (the app runs uncached).
   *
   * @throws {CliError} Code `preflight` with `tcp` when another program holds its TCP port.
   */
  start(instance: Instance, password: string): Promise<void>;
  /** `SHUTDOWN` (the AOF is fsynced), then waits for it to exit. */
  stop(instance: Instance): Promise<void>;
  /** Its pid when the pid file names a live `redis-server` of ours. */
  pid(instance: Instance): Promise<number | undefined>;
  /**
   * Runs an authenticated redis-cli command over the checked socket.
   *
   * @returns Its output, or `undefined` when Redis is not running or has no password yet.
   */
  cli(instance: Instance, step: (password: string) => Step): Promise<StepOutput | undefined>;
}

/**
 * Creates the native Redis module.
 *
 * @param deps Shared native dependencies.
 * @returns The module.
 */
export function nativeRedis(deps: NativeDeps): NativeRedis {
  const { reporter, options, context } = deps;
  const what = (instance: Instance) => `Redis of '${instance.id}'`;

  const pid = async (instance: Instance) => {
    const paths = await deps.paths(instance, false);
    const found = await livePid(paths.redisPidFile);
    if (found === undefined) return undefined;
    const [name, uid] = [await processName(found), await processUid(found)];
    return name?.startsWith("redis-server") && uid === deps.uid ? found : undefined;
  };

  /** The socket is ours: only then does the password go out. */
  const verified = async (instance: Instance, paths: NativePaths) =>
    await verifyPrivateSocket(paths.redisSocket, deps.uid, what(instance));

  const cli: NativeRedis["cli"] = async (instance, step) => {
    const password = await redisPasswordOf(instance);
    if (password === undefined || await pid(instance) === undefined) return undefined;
    const paths = await deps.paths(instance, false);
    try {
      await verified(instance, paths);
    } catch {
      return undefined;
    }
    return await execStep(step(password), options);
  };

  const ping = async (instance: Instance, paths: NativePaths, password: string) => {
    const out = await execStep(
      nativeRedisSteps(instance, paths, password).ping,
      options,
    );
    // LOADING (reading the AOF back) counts as started: the app bypasses the cache meanwhile.
    return out.code === 0 && redisStarted(out.stdout);
  };

  return {
    pid,
    cli,

    async start(instance, password) {
      const paths = await deps.paths(instance, false);
      const running = await pid(instance);
      if (running !== undefined) {
        const socket = await Deno.lstat(paths.redisSocket).catch(() => undefined);
        if (!socket) {
          reporter.warn(
            `${
              what(instance)
            } (pid ${running}) was started by an older wb and has no Unix socket; \`wb restart ${instance.id}\` moves it there.`,
          );
          return;
        }
        await verified(instance, paths);
        if (await ping(instance, paths, password)) {
          reporter.info(`${what(instance)} is already running (pid ${running})`);
          return;
        }
      }
      if (instance.tcp) {
        const port = redisPortOf(instance);
        const held = await portHolder(port, running === undefined ? [] : [running]);
        if (held.holder === "foreign") {
          throw new CliError(
            "preflight",
            `Redis port ${port} of '${instance.id}' is held by another program (uid ${held.uid}); wb never uses a Redis it did not start. Free the port or change redisPort (wb c update ${instance.id} --redis-port <n>)`,
          );
        }
      }
      await Deno.mkdir(paths.redisDir, { recursive: true, mode: 0o700 });
      await Deno.chmod(paths.redisDir, 0o700);
      await Deno.mkdir(paths.logsDir, { recursive: true, mode: 0o700 });
      await writeRedisConfig(
        paths.redisConf,
        instance,
        nativeRedisListen(instance, paths),
        password,
      );
      const steps = nativeRedisSteps(instance, paths, password, context.redisReadyMs);
      reporter.step(steps.start.title);
      let child: Deno.ChildProcess;
      try {
        child = new Deno.Command(steps.start.command, {
          args: steps.start.args,
          env: context.env,
          stdin: "null",
          stdout: "null",
          stderr: "null",
          detached: true,
        }).spawn();
      } catch (error) {
        reporter.warn(`${steps.start.title} failed; continuing. ${REDIS_DOWN_HINT}\n${error}`);
        return;
      }
      child.unref();
      let exited: Deno.CommandStatus | undefined;
      child.status.then((status) => exited = status);
      const timeoutMs = context.redisReadyMs ?? 10_000;
      const deadline = Date.now() + timeoutMs;
      reporter.step(steps.ping.title);
      while (true) {
        if (exited) {
          // Exited (bad config, AOF it cannot load, busy port): no reason to wait.
          const error = new ReadinessTimeoutError(
            `${what(instance)} exited (code ${exited.code}) before answering PING`,
            await tailFile(paths.redisLog),
          );
          reporter.warn(
            `${steps.start.title} failed; continuing. ${REDIS_DOWN_HINT}\n${error.message}`,
          );
          return;
        }
        const socket = await Deno.lstat(paths.redisSocket).catch(() => undefined);
        if (socket?.isSocket) {
          await verified(instance, paths);
          if (await ping(instance, paths, password)) return;
        }
        if (Date.now() >= deadline) {
          await terminate(child.pid, 5_000);
          const error = new ReadinessTimeoutError(
            `${what(instance)} did not answer PING within ${timeoutMs / 1000} s (stopped it)`,
            await tailFile(paths.redisLog),
          );
          reporter.warn(
            `${steps.start.title} failed; continuing. ${REDIS_DOWN_HINT}\n${error.message}`,
          );
          return;
        }
        await sleep(50);
      }
    },

    async stop(instance) {
      const paths = await deps.paths(instance, false);
      const running = await pid(instance);
      if (running === undefined) {
        reporter.step(`${what(instance)} is not running`);
        return;
      }
      const password = await redisPasswordOf(instance);
      const socket = await Deno.lstat(paths.redisSocket).catch(() => undefined);
      if (password !== undefined && socket) {
        await verified(instance, paths);
        await runStep(
          {
            ...nativeRedisCliStep(paths, password, `Stop ${what(instance)}`, ["shutdown"]),
            optional: true,
          },
          options,
        );
      } else {
        reporter.step(`Stop ${what(instance)} (pid ${running})`);
        await terminate(running, 10_000);
      }
      if (!await waitForExit(running, 10_000)) await terminate(running, 5_000);
    },
  };
}
