/**
 * The docker runtime: executes the docker plans (`docker_plan.ts`, `docker_ops_plan.ts`) with the instance's
 * configured images, waits for the app's `/healthz`, and when a start fails removes
 * exactly what that start created (containers it ran, the network if it made it).
 *
 * @module
 */

import { join } from "node:path";
import type { Instance } from "./instance_schema.ts";
import type { WbContext } from "./context.ts";
import { CliError, CommandFailedError, ReadinessTimeoutError } from "./errors.ts";
import { imageLayersOf } from "./instance_images.ts";
import { type ImageLayers, resolveImages, type ServiceImages } from "./images.ts";
import { REDIS_DOWN_HINT, type Service, servicesOf, type Step } from "./plan.ts";
import {
  containerName,
  dockerRedisCliStep,
  dockerRedisListen,
  dockerStartSteps,
  dockerStopSteps,
} from "./docker_plan.ts";
import {
  dockerCountFacilitiesStep,
  dockerLoadStep,
  dockerLogsStep,
  dockerRollbackPlan,
  INSPECT_FORMAT,
} from "./docker_ops_plan.ts";
import { probeHttp } from "./process.ts";
import { parseRedisInfo, REDIS_CONFIG_FILE, writeRedisConfig } from "./redis_config.ts";
import { execStep, runStep, runSteps, sleep, type StepResult } from "./runner.ts";
import {
  appUrl,
  instanceStatus,
  parseCount,
  redisPasswordOf,
  type Runtime,
  type ServiceState,
} from "./runtime.ts";

/**
 * Creates the docker runtime.
 *
 * @param context Environment (e.g. `PATH`), reporter and timeouts.
 * @returns The runtime.
 * @example
 * ```ts
 * import { dockerRuntime } from "./docker_runtime.ts";
 * import { memoryReporter } from "./reporter.ts";
 * const runtime = dockerRuntime({ home: "/tmp/wb", repoRoot: ".", reporter: memoryReporter() });
 * ```
 */
export function dockerRuntime(context: WbContext): Runtime {
  const { reporter } = context;
  const options = { env: context.env, reporter };
  let layers: Promise<ImageLayers> | undefined;
  const imagesFor = async (instance: Instance): Promise<ServiceImages> =>
    resolveImages(instance, await (layers ??= imageLayersOf(context)));
  /**
   * What each instance's starts in this runtime created, for the rollback: containers
   * `docker run` was asked to create (a failed run may leave one behind, `created`) and the
   * network when `network create` made it. Not what was already there.
   */
  const created = new Map<string, { containers: string[]; networks: string[] }>();
  const record = (instance: Instance, step: Step, result?: StepResult) => {
    const mine = created.get(instance.id) ?? { containers: [], networks: [] };
    created.set(instance.id, mine);
    if (result?.status === "already") return; // running (or existing) before this start
    if (step.args[0] === "run" && step.args.includes("-d")) {
      mine.containers.push(step.args[step.args.indexOf("--name") + 1]);
    } else if (step.args[0] === "network" && step.args[1] === "create" && result) {
      mine.networks.push(step.args.at(-1)!);
    }
  };
  /** The last lines of a container's log, for an error message. */
  const logTail = async (instance: Instance, service: Service) => {
    const logs = await execStep(dockerLogsStep(instance.id, service, { tailLines: 20 }), options);
    return `${logs.stdout}${logs.stderr}`.trim();
  };
  const probe = (title: string, args: string[]) =>
    execStep({ title, command: "docker", args }, options);
  const redisCli = async (instance: Instance, title: string, args: string[]) => {
    const password = await redisPasswordOf(instance);
    if (password === undefined) return undefined;
    const out = await execStep(dockerRedisCliStep(instance.id, password, title, args), options);
    return out.code === 0 ? out.stdout : undefined;
  };

  /** Polls `/healthz` on the published port; on timeout, the container's log tail. */
  const waitForApp = async (instance: Instance) => {
    const url = `${appUrl(instance)}/healthz`;
    const timeoutMs = context.healthTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    reporter.step(`Wait for ${url}`);
    let last = await probeHttp(url);
    while (!last.ok) {
      if (Date.now() >= deadline) {
        const logs = await execStep(dockerLogsStep(instance.id, "app", { tailLines: 20 }), options);
        reporter.end?.("failed");
        throw new ReadinessTimeoutError(
          `The app of '${instance.id}' did not answer ${url} with 200 within ${
            timeoutMs / 1000
          } s (last: ${last.status ? `HTTP ${last.status}` : last.error ?? "no answer"})`,
          `${logs.stdout}${logs.stderr}`.trim(),
        );
      }
      await sleep(250);
      last = await probeHttp(url);
    }
  };

  return {
    async start(instance, service, secrets) {
      if (!created.has(instance.id)) created.set(instance.id, { containers: [], networks: [] });
      if (service === "redis") {
        const path = join(instance.instanceDir, "redis", REDIS_CONFIG_FILE);
        try {
          await writeRedisConfig(path, instance, dockerRedisListen(), secrets.redisPassword);
        } catch (error) {
          // The Redis directory is unusable (a file, not writable): Redis cannot start,
          // which is a warning like any other Redis failure.
          reporter.warn(
            `Cannot write ${path}: ${
              (error as Error).message
            }; Redis of '${instance.id}' is not started. ${REDIS_DOWN_HINT}`,
          );
          return;
        }
      }
      const steps = dockerStartSteps(instance, service, {
        secrets,
        postgresReadyMs: context.postgresReadyMs,
        redisReadyMs: context.redisReadyMs,
        images: await imagesFor(instance),
      });
      for (const step of steps) {
        let result: StepResult;
        try {
          result = await runStep(step, options);
        } catch (error) {
          record(instance, step);
          // A container that stopped (or never became ready): its log says why.
          if (error instanceof ReadinessTimeoutError && service !== "app") {
            const tail = await logTail(instance, service);
            if (tail) throw new ReadinessTimeoutError(error.message, tail, { cause: error.cause });
          }
          throw error;
        }
        record(instance, step, result);
        // An optional service that failed (Redis) has warned; its later steps are moot.
        if (result.status === "warned") {
          if (step.retryForMs !== undefined) {
            const tail = await logTail(instance, service);
            if (tail) {
              reporter.warn(`Last log lines of ${containerName(instance.id, service)}:\n${tail}`);
            }
          }
          return;
        }
      }
      if (service === "app") await waitForApp(instance);
    },

    async stop(instance, service) {
      await runSteps(dockerStopSteps(instance, service), options);
    },

    async status(instance) {
      const services: ServiceState[] = [];
      /** A daemon that does not answer makes every state unknown (not "absent"). */
      const unknown = async (output: { code: number; stdout: string; stderr: string }) => {
        const unreachable = daemonUnreachable(output);
        if (!unreachable) return undefined;
        const states = servicesOf(instance).map((service): ServiceState => ({
          service,
          running: false,
          state: "unknown",
          detail: unreachable,
        }));
        return await instanceStatus(this, instance, states, unreachable);
      };
      for (const service of servicesOf(instance)) {
        const name = containerName(instance.id, service);
        if (service === "network") {
          const output = await probe("inspect network", ["network", "inspect", name]);
          const unreachable = await unknown(output);
          if (unreachable) return unreachable;
          const { code } = output;
          services.push({
            service,
            running: code === 0,
            state: code === 0 ? "present" : "absent",
            detail: `network ${name}`,
          });
          continue;
        }
        const inspected = await probe("inspect container", [
          "inspect",
          "--format",
          INSPECT_FORMAT,
          name,
        ]);
        const unreachable = await unknown(inspected);
        if (unreachable) return unreachable;
        const { code, stdout } = inspected;
        const [state = "absent", startedAt, image] = code === 0 && stdout.trim()
          ? stdout.trim().split(" ")
          : ["absent"];
        services.push({
          service,
          running: state === "running",
          state,
          ...(startedAt && !startedAt.startsWith("0001") ? { startedAt } : {}),
          ...(image ? { image } : {}),
          detail: `container ${name} (${state})`,
        });
      }
      const status = await instanceStatus(this, instance, services);
      const images = await imagesFor(instance);
      const configured: Partial<Record<Service, string>> = {
        postgres: images.postgres,
        redis: images.redis,
        app: images.app,
        ...(images.admin ? { admin: images.admin } : {}),
      };
      for (const state of status.services) {
        const image = configured[state.service];
        if (image) state.configuredImage = image;
      }
      return status;
    },

    async redisKeyCount(instance) {
      const out = await redisCli(instance, "DBSIZE", ["DBSIZE"]);
      return out !== undefined && /^\d+$/.test(out.trim()) ? parseCount(out) : undefined;
    },

    async redisInfo(instance) {
      const out = await redisCli(instance, "INFO", ["INFO"]);
      return out === undefined ? undefined : parseRedisInfo(out);
    },

    async flushRedis(instance) {
      const password = await redisPasswordOf(instance);
      if (password === undefined) {
        throw new CliError("config", `'${instance.id}' has no secrets yet; run it once first`);
      }
      await runStep({
        ...dockerRedisCliStep(instance.id, password, `Flush Redis of ${instance.id}`, ["FLUSHDB"]),
        expectStdout: "^OK",
      }, options);
    },

    async rollback(instance) {
      const plan = dockerRollbackPlan(instance.id);
      const mine = created.get(instance.id);
      if (mine) {
        // Exactly what the start created: what was there before it stays.
        created.delete(instance.id);
        const removed: string[] = [];
        const containers = [...new Set(mine.containers)];
        if (containers.length > 0) {
          // `docker rm` prints each container it removed; a name it did not know (a `run`
          // that failed before creating its container) is not reported as removed.
          const result = await runStep(plan.removeContainers(containers), options);
          const printed = new Set(result.output.stdout.split("\n").map((l) => l.trim()));
          const gone = containers.filter((c) => printed.has(c));
          removed.push(...gone.map((c) => `removed container ${c}`));
        }
        if (mine.networks.length > 0) {
          await runStep(plan.removeNetworks(mine.networks), options);
          removed.push(...mine.networks.map((n) => `removed network ${n}`));
        }
        return removed;
      }
      const names = (step: Step) =>
        runStep(step, options).then((r) => r.output.stdout.split("\n").map((l) => l.trim()))
          .then((lines) => lines.filter(Boolean));
      const removed: string[] = [];
      const containers = await names(plan.listContainers);
      if (containers.length > 0) {
        await runStep(plan.removeContainers(containers), options);
        removed.push(...containers.map((c) => `removed container ${c}`));
      }
      const networks = await names(plan.listNetworks);
      if (networks.length > 0) {
        await runStep(plan.removeNetworks(networks), options);
        removed.push(...networks.map((n) => `removed network ${n}`));
      }
      return removed;
    },

    // Nothing to check without touching docker: with its daemon down, `stop` fails before
    // anything stops; ports are checked by docker when the container starts.
    preflight(_instance) {
      return Promise.resolve([]);
    },

    logsStep(instance, service, logsOptions) {
      return Promise.resolve(dockerLogsStep(instance.id, service, logsOptions));
    },

    async redisCliStep(instance, args, tty) {
      const password = await redisPasswordOf(instance);
      if (password === undefined) {
        throw new CliError("config", `'${instance.id}' has no secrets yet; run it once first`);
      }
      return dockerRedisCliStep(
        instance.id,
        password,
        "redis-cli",
        args,
        tty ? ["-i", "-t"] : [
          "-i",
        ],
      );
    },

    async countFacilities(instance) {
      return await countWith(instance, dockerCountFacilitiesStep(instance), options.env);
    },

    async load(instance, secrets, loadOptions) {
      const images = await imagesFor(instance);
      await runSteps([dockerLoadStep(instance, secrets, loadOptions, images.app)], options);
    },
  };
}

/**
 * Whether a docker command failed because it could not reach the daemon.
 *
 * @param output Output of a docker command.
 * @returns A message saying so, or `undefined` when the daemon answered (or the command
 *   failed for another reason).
 * @example
 * ```ts
 * import { daemonUnreachable } from "./docker_runtime.ts";
 * daemonUnreachable({ code: 1, stdout: "", stderr: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" });
 * ```
 */
export function daemonUnreachable(
  output: { code: number; stdout: string; stderr: string },
): string | undefined {
  if (output.code === 0) return undefined;
  if (output.code === 127) return "docker is not installed (command not found)";
  const text = output.stderr.trim();
  if (
    /cannot connect to the docker daemon|error during connect|docker daemon.*running|permission denied.*docker\.sock/i
      .test(text)
  ) {
    return `the Docker daemon is unreachable: ${text.split("\n")[0]}`;
  }
  return undefined;
}

/**
 * Runs a counting step; a missing table counts as 0, an unreachable database throws.
 *
 * @param instance The instance (for the message).
 * @param step A step printing a count.
 * @param env Extra environment.
 * @returns The count.
 * @throws {CliError} Code `not_running` when the database does not answer.
 * @example
 * ```ts
 * import { countWith } from "./docker_runtime.ts";
 * await countWith({ id: "x" } as never, { title: "n", command: "echo", args: ["3"] }); // 3
 * ```
 */
export async function countWith(
  instance: Pick<Instance, "id">,
  step: Step,
  env?: Record<string, string>,
): Promise<number> {
  const output = await execStep(step, { env });
  if (output.code === 0) return parseCount(output.stdout) ?? 0;
  if (/does not exist/i.test(output.stderr)) return 0;
  const cause = new CommandFailedError(step.command, step.args, output.code, output.stderr);
  throw new CliError(
    "not_running",
    `Postgres of '${instance.id}' does not answer; start it with \`wb run ${instance.id}\`.\n${cause.message}`,
    { cause },
  );
}
