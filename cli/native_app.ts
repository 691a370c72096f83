/**
 * The native app of an instance: a detached process (`deno run server/main.ts`, or
 * `deno serve --parallel` with several workers) bound to 127.0.0.1, its output appended to
 * `logs/app.log` with umask 077; started once its port is free, awaited on `/healthz`.
 * Also the log rotation loop of the instance's native logs.
 *
 * @module
 */

import { join } from "node:path";
import { ENV_NAMES } from "../server/env_contract.ts";
import { type Instance, workersOf } from "./instance_schema.ts";
import { denoPathOf, type WbContext } from "./context.ts";
import { CliError, ReadinessTimeoutError } from "./errors.ts";
import type { NativeDeps } from "./native_deps.ts";
import { portHolder } from "./native_files.ts";
import { type NativePaths } from "./native_plan.ts";
import {
  logRotationStep,
  NATIVE_APP_HOST,
  nativeAppEnv,
  nativeAppShellArgs,
} from "./native_app_plan.ts";
import { livePid, probeHttp, tailFile, terminate } from "./process.ts";
import { sleep } from "./runner.ts";
import { appUrl } from "./runtime.ts";
import type { Secrets } from "./secrets.ts";

/**
 * The app's command line of the native runtime: one process (`deno run server/main.ts`),
 * or with `workers` above 1, `deno serve --parallel server/serve.ts` on the instance's port
 * and 127.0.0.1 (the worker count goes in `DENO_JOBS`, see `nativeAppEnv`).
 *
 * @param context The context (`appCommand` overrides the default).
 * @param instance The instance (its port and worker count). @default {one worker}
 * @returns `[deno, "run", "-A", "<repo>/server/main.ts"]` unless overridden or parallel.
 * @example
 * ```ts
 * import { nativeAppCommand } from "./native_app.ts";
 * nativeAppCommand({ repoRoot: "/repo", denoPath: "deno" } as never, { port: 8710, workers: 4 });
 * // ["deno", "serve", "-A", "--parallel", "--port", "8710", "--host", "127.0.0.1", "/repo/server/serve.ts"]
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
    NATIVE_APP_HOST,
    join(context.repoRoot, "server", "serve.ts"),
  ];
}

/** The native app of instances. */
export interface NativeApp {
  /**
   * Starts the app (unless it runs) and waits for `/healthz` to answer 200 for this
   * instance.
   *
   * @throws {CliError} Code `preflight` when another program holds the app port.
   * @throws {ReadinessTimeoutError} When it exits or stays unhealthy (the log tail attached).
   */
  start(instance: Instance, secrets: Secrets): Promise<void>;
  /** SIGTERM (SIGKILL after 10 s). */
  stop(instance: Instance): Promise<void>;
  /** The app's pid, if the pid file names a live process of this instance. */
  pid(instance: Instance): Promise<number | undefined>;
  /** Starts the log rotation loop unless it runs. */
  startRotation(instance: Instance): Promise<void>;
  /** Stops the log rotation loop. */
  stopRotation(instance: Instance): Promise<void>;
}

/** The pid in `file` when it is alive and its environment says `WB_INSTANCE=<id>`. */
async function instancePid(file: string, id: string): Promise<number | undefined> {
  const pid = await livePid(file);
  if (pid === undefined) return undefined;
  const environ = await Deno.readTextFile(`/proc/${pid}/environ`).catch(() => undefined);
  // A reused pid (another program) is a stale pid file.
  if (environ !== undefined && !environ.split("\0").includes(`${ENV_NAMES.instance}=${id}`)) {
    return undefined;
  }
  return pid;
}

/**
 * Creates the native app module.
 *
 * @param deps Shared native dependencies.
 * @returns The module.
 */
export function nativeApp(deps: NativeDeps): NativeApp {
  const { reporter, context } = deps;

  const pid = async (instance: Instance) =>
    await instancePid((await deps.paths(instance, false)).appPidFile, instance.id);

  const waitHealthy = async (
    instance: Instance,
    paths: NativePaths,
    running: number,
    exited: () => Deno.CommandStatus | undefined,
  ) => {
    const url = `${appUrl(instance)}/healthz`;
    const timeoutMs = context.healthTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    reporter.step(`Wait for ${url}`);
    let last = "no answer";
    while (true) {
      const status = exited();
      if (status) {
        await Deno.remove(paths.appPidFile).catch(() => {});
        throw new ReadinessTimeoutError(
          `The app of '${instance.id}' exited (code ${status.code}) before answering ${url}`,
          await tailFile(paths.appLog),
        );
      }
      const probe = await probeHttp(url, 2_000);
      const answeredBy = (probe.body as { instance?: unknown } | undefined)?.instance;
      if (probe.ok && (answeredBy === undefined || answeredBy === instance.id)) return;
      last = probe.status
        ? `HTTP ${probe.status}${answeredBy !== undefined ? ` from instance '${answeredBy}'` : ""}`
        : probe.error ?? "no answer";
      if (Date.now() >= deadline) {
        await terminate(running, 5_000);
        await Deno.remove(paths.appPidFile).catch(() => {});
        throw new ReadinessTimeoutError(
          `The app of '${instance.id}' did not answer ${url} with 200 within ${
            timeoutMs / 1000
          } s (last: ${last}; stopped it; log: ${paths.appLog})`,
          await tailFile(paths.appLog),
        );
      }
      await sleep(100);
    }
  };

  const spawnDetached = (command: string, args: string[], env: Record<string, string>) => {
    const child = new Deno.Command(command, {
      args,
      env,
      cwd: context.repoRoot,
      stdin: "null",
      stdout: "null",
      stderr: "null",
      detached: true,
    }).spawn();
    child.unref();
    return child;
  };

  return {
    pid,

    async start(instance, secrets) {
      const paths = await deps.paths(instance, false);
      await Deno.mkdir(paths.logsDir, { recursive: true, mode: 0o700 });
      const running = await pid(instance);
      if (running !== undefined) {
        reporter.info(`The app of '${instance.id}' is already running (pid ${running})`);
        await waitHealthy(instance, paths, running, () => undefined);
        return;
      }
      await Deno.remove(paths.appPidFile).catch(() => {});
      const held = await portHolder(instance.port, []);
      if (held.holder !== "free") {
        throw new CliError(
          "preflight",
          `Port ${instance.port} of '${instance.id}' is in use by another program (uid ${held.uid}); free it or change the port (wb c update ${instance.id} --port <n>)`,
        );
      }
      const command = nativeAppCommand(context, instance);
      const workers = workersOf(instance);
      reporter.step(
        `Start the app of '${instance.id}' on ${NATIVE_APP_HOST}:${instance.port}${
          workers > 1 ? ` (${workers} workers)` : ""
        } (log: ${paths.appLog})`,
      );
      const child = spawnDetached("sh", nativeAppShellArgs(paths, command), {
        ...context.env,
        ...nativeAppEnv(instance, paths, secrets),
      });
      let exited: Deno.CommandStatus | undefined;
      child.status.then((status) => exited = status);
      await Deno.writeTextFile(paths.appPidFile, `${child.pid}\n`, { mode: 0o600 });
      await waitHealthy(instance, paths, child.pid, () => exited);
    },

    async stop(instance) {
      const paths = await deps.paths(instance, false);
      const running = await pid(instance);
      if (running === undefined) {
        reporter.step(`The app of '${instance.id}' is not running`);
      } else {
        reporter.step(`Stop the app of '${instance.id}' (pid ${running})`);
        const how = await terminate(running, 10_000);
        if (how === "kill") {
          reporter.warn(`The app of '${instance.id}' ignored SIGTERM for 10 s; killed it`);
        }
      }
      await Deno.remove(paths.appPidFile).catch(() => {});
    },

    async startRotation(instance) {
      const paths = await deps.paths(instance, false);
      if (await livePid(paths.rotatePidFile) !== undefined) return;
      const step = logRotationStep(paths);
      const child = spawnDetached(step.command, step.args, { ...context.env });
      await Deno.writeTextFile(paths.rotatePidFile, `${child.pid}\n`, { mode: 0o600 });
    },

    async stopRotation(instance) {
      const paths = await deps.paths(instance, false);
      const running = await livePid(paths.rotatePidFile);
      if (running !== undefined) await terminate(running, 2_000);
      await Deno.remove(paths.rotatePidFile).catch(() => {});
    },
  };
}
