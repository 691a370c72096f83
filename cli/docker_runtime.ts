/**
 * The docker runtime: executes the docker plans of `plan.ts`.
 *
 * @module
 */

import type { Instance } from "./config.ts";
import type { WbContext } from "./context.ts";
import { CliError, CommandFailedError } from "./errors.ts";
import {
  containerName,
  dockerCountFacilitiesStep,
  dockerLoadStep,
  dockerStartSteps,
  dockerStopSteps,
  servicesOf,
  type Step,
} from "./plan.ts";
import { execStep, runSteps } from "./runner.ts";
import { instanceStatus, parseCount, type Runtime, type ServiceState } from "./runtime.ts";

/**
 * Creates the docker runtime.
 *
 * @param context Environment (e.g. `PATH`) and reporter.
 * @returns The runtime.
 * @example
 * ```ts
 * import { dockerRuntime } from "./docker_runtime.ts";
 * import { memoryReporter } from "./reporter.ts";
 * const runtime = dockerRuntime({ home: "/tmp/wb", repoRoot: ".", reporter: memoryReporter() });
 * ```
 */
export function dockerRuntime(context: WbContext): Runtime {
  const options = { env: context.env, reporter: context.reporter };
  const probe = (title: string, args: string[]): Promise<{ code: number; stdout: string }> =>
    execStep({ title, command: "docker", args }, options);

  return {
    async start(instance, service, secrets) {
      await runSteps(dockerStartSteps(instance, service, { secrets }), options);
    },

    async stop(instance, service) {
      await runSteps(dockerStopSteps(instance, service), options);
    },

    async status(instance) {
      const services: ServiceState[] = [];
      for (const service of servicesOf(instance)) {
        const name = containerName(instance.id, service);
        if (service === "network") {
          const { code } = await probe("inspect network", ["network", "inspect", name]);
          services.push({ service, running: code === 0, detail: `network ${name}` });
          continue;
        }
        const { code, stdout } = await probe("inspect container", [
          "inspect",
          "--format",
          "{{.State.Status}}",
          name,
        ]);
        const state = code === 0 ? stdout.trim() : "absent";
        services.push({
          service,
          running: state === "running",
          detail: `container ${name} (${state})`,
        });
      }
      return await instanceStatus(this, instance, services);
    },

    async redisKeyCount(instance) {
      const { code, stdout } = await probe("DBSIZE", [
        "exec",
        containerName(instance.id, "redis"),
        "redis-cli",
        "DBSIZE",
      ]);
      return code === 0 ? parseCount(stdout) : undefined;
    },

    async flushRedis(instance) {
      await runSteps([{
        title: `Flush Redis of ${instance.id}`,
        command: "docker",
        args: ["exec", containerName(instance.id, "redis"), "redis-cli", "FLUSHDB"],
      }], options);
    },

    async countFacilities(instance) {
      return await countWith(instance, dockerCountFacilitiesStep(instance), options.env);
    },

    async load(instance, secrets, loadOptions) {
      await runSteps([dockerLoadStep(instance, secrets, loadOptions)], options);
    },
  };
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
