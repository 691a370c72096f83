/**
 * Docker steps on an existing instance, besides start and stop: loading data with the app
 * image, counting loaded facilities, reading logs, inspecting containers, and the rollback
 * that removes every labelled resource. Pure: no `Deno.*` calls; the runner executes these
 * steps, tests assert them.
 *
 * @module
 */

import { dockerEnvArgs } from "../server/env_contract.ts";
import type { Instance } from "./instance_schema.ts";
import {
  containerName,
  dockerDatabaseUrl,
  dockerRedisUrl,
  INSTANCE_LABEL,
  labelArgs,
} from "./docker_plan.ts";
import { appImage } from "./images.ts";
import {
  COUNT_FACILITIES_SQL,
  DATABASE_NAME,
  loaderArgs,
  type LoadOptions,
  type LogsOptions,
  type Service,
  type Step,
} from "./plan.ts";
import type { Secrets } from "./secrets.ts";

/** Where the facilities CSV is mounted in the docker loader container. */
export const CONTAINER_FACILITIES_PATH = "/input/facilities.csv";

/**
 * The docker step that runs the app's loader in a throw-away container on the
 * instance's network.
 *
 * @param instance The instance.
 * @param secrets Its secrets (for DATABASE_URL).
 * @param options What to load; a host CSV is mounted read-only.
 * @param image The app image. @default {the instance's, without global settings}
 * @returns The step.
 * @example
 * ```ts
 * import { dockerLoadStep } from "./docker_ops_plan.ts";
 * const instance = { id: "demo", port: 8710, instanceDir: "/wb/demo", tags: [] } as never;
 * dockerLoadStep(instance, { adminToken: "t", postgresPassword: "p", redisPassword: "r" }, { scale: 1 });
 * ```
 */
export function dockerLoadStep(
  instance: Instance,
  secrets: Secrets,
  options: LoadOptions,
  image: string = appImage(instance),
): Step {
  const { id } = instance;
  const mount = options.facilitiesCsv
    ? ["-v", `${options.facilitiesCsv}:${CONTAINER_FACILITIES_PATH}:ro`]
    : [];
  const inContainer = {
    ...options,
    facilitiesCsv: options.facilitiesCsv ? CONTAINER_FACILITIES_PATH : undefined,
  };
  const loaderEnv = dockerEnvArgs({
    databaseUrl: dockerDatabaseUrl(id, secrets),
    redisUrl: dockerRedisUrl(id, secrets),
  });
  return {
    title: `Load data into ${id}`,
    command: "docker",
    args: [
      "run",
      "--rm",
      "--network",
      id,
      ...labelArgs(id),
      ...loaderEnv.args,
      ...mount,
      image,
      "deno",
      "run",
      "-A",
      "server/load.ts",
      ...loaderArgs(inContainer),
    ],
    env: loaderEnv.env,
  };
}

/**
 * The docker step that counts loaded facilities via `psql` in the Postgres container.
 *
 * @param instance The instance.
 * @returns The step; its stdout is the count.
 * @example
 * ```ts
 * import { dockerCountFacilitiesStep } from "./docker_ops_plan.ts";
 * dockerCountFacilitiesStep({ id: "demo" } as never).args[1]; // "demo-postgres"
 * ```
 */
export function dockerCountFacilitiesStep(instance: Pick<Instance, "id">): Step {
  return {
    title: `Count facilities in ${instance.id}`,
    command: "docker",
    args: [
      "exec",
      containerName(instance.id, "postgres"),
      "psql",
      "-U",
      "postgres",
      "-d",
      DATABASE_NAME,
      "-tAc",
      COUNT_FACILITIES_SQL,
    ],
  };
}

/** The steps that remove every labelled resource of a docker instance. */
export interface DockerRollbackPlan {
  /** Names of every container labelled `dev.wb.instance=<id>`, running or not. */
  listContainers: Step;
  /** `docker rm -f` of the listed containers (their bind-mounted data stays on disk). */
  removeContainers(names: readonly string[]): Step;
  /** Names of every network labelled `dev.wb.instance=<id>`. */
  listNetworks: Step;
  /** `docker network rm` of the listed networks. */
  removeNetworks(names: readonly string[]): Step;
}

/**
 * How a failed docker start is undone: find the instance's resources by their label and
 * remove them, containers first. Data in the instance directory (bind mounts) is kept.
 *
 * @param id Instance id.
 * @returns The steps; the removals take the names the listings printed.
 * @example
 * ```ts
 * import { dockerRollbackPlan } from "./docker_ops_plan.ts";
 * dockerRollbackPlan("demo").listContainers.args;
 * // ["ps", "-a", "--filter", "label=dev.wb.instance=demo", "--format", "{{.Names}}"]
 * ```
 */
export function dockerRollbackPlan(id: string): DockerRollbackPlan {
  const filter = ["--filter", `label=${INSTANCE_LABEL}=${id}`];
  return {
    listContainers: {
      title: `List containers labelled ${INSTANCE_LABEL}=${id}`,
      command: "docker",
      args: ["ps", "-a", ...filter, "--format", "{{.Names}}"],
    },
    removeContainers: (names) => ({
      title: `Remove containers ${names.join(", ")}`,
      command: "docker",
      args: ["rm", "-f", ...names],
      okIfStderr: "No such container",
    }),
    listNetworks: {
      title: `List networks labelled ${INSTANCE_LABEL}=${id}`,
      command: "docker",
      args: ["network", "ls", ...filter, "--format", "{{.Name}}"],
    },
    removeNetworks: (names) => ({
      title: `Remove network ${names.join(", ")}`,
      command: "docker",
      args: ["network", "rm", ...names],
      okIfStderr: "not found|No such network",
    }),
  };
}

/**
 * `docker logs` of one service of an instance.
 *
 * @param id Instance id.
 * @param service A service with a container (not `network`).
 * @param options Follow, tail.
 * @returns The step.
 * @example
 * ```ts
 * import { dockerLogsStep } from "./docker_ops_plan.ts";
 * dockerLogsStep("demo", "redis", { tailLines: 50 }).args; // ["logs", "--tail", "50", "demo-redis"]
 * ```
 */
export function dockerLogsStep(id: string, service: Service, options: LogsOptions = {}): Step {
  return {
    title: `Logs of ${containerName(id, service)}`,
    command: "docker",
    args: [
      "logs",
      ...(options.follow ? ["--follow"] : []),
      ...(options.since !== undefined ? ["--since", options.since.toISOString()] : []),
      ...(options.tailLines !== undefined ? ["--tail", String(options.tailLines)] : []),
      containerName(id, service),
    ],
  };
}

/** Format of `docker inspect` in `wb status`: state, start time and the image it runs. */
export const INSPECT_FORMAT = "{{.State.Status}} {{.State.StartedAt}} {{.Config.Image}}";
