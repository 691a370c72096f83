/**
 * The docker plan of an instance, as plain data: container names, the `docker run` of each
 * service (its environment from `server/env_contract.ts`, secrets passed by name), the stop
 * and restart plans in the shared order of `plan.ts`. The steps on an existing instance
 * (load, count, logs, rollback) are in `docker_ops_plan.ts`. Pure: no `Deno.*` calls; the runner executes these steps, tests assert them.
 *
 * @module
 */

import { dockerEnvArgs } from "../server/env_contract.ts";
import { DEFAULT_PUBLISH_ADDRESS, type Instance, workersOf } from "./instance_schema.ts";
import { appImage, resolveImages, type ServiceImages } from "./images.ts";
import {
  DATABASE_NAME,
  REDIS_DOWN_HINT,
  REDIS_STARTED_STDOUT,
  type Service,
  servicesOf,
  type Step,
  stopOrderOf,
} from "./plan.ts";
import { REDIS_CONFIG_FILE, type RedisListen, redisUrl } from "./redis_config.ts";
import type { Secrets } from "./secrets.ts";

/** Docker label put on every container and network: `dev.wb.instance=<id>`. */
export const INSTANCE_LABEL = "dev.wb.instance";

/** Port the app listens on inside its container. */
export const CONTAINER_APP_PORT = 8000;

/**
 * The host address a docker instance's app port is published on.
 *
 * @param instance The instance.
 * @returns `publishAddress`, else `127.0.0.1` (this machine only).
 * @example
 * ```ts
 * import { publishAddressOf } from "./docker_plan.ts";
 * publishAddressOf({}); // "127.0.0.1"
 * ```
 */
export function publishAddressOf(instance: Pick<Instance, "publishAddress">): string {
  return instance.publishAddress ?? DEFAULT_PUBLISH_ADDRESS;
}

/**
 * Container names of an instance's services (the network is named `<id>` too).
 *
 * @param id Instance id.
 * @param service The service.
 * @returns `<id>` for the app and network, `<id>-<service>` otherwise.
 * @example
 * ```ts
 * import { containerName } from "./docker_plan.ts";
 * containerName("demo", "postgres"); // "demo-postgres"
 * ```
 */
export function containerName(id: string, service: Service): string {
  return service === "app" || service === "network" ? id : `${id}-${service}`;
}

/** Things a docker start step needs besides the instance. */
export interface DockerStartContext {
  /** The instance's secrets. */
  secrets: Secrets;
  /** How long to poll `pg_isready` before giving up, in milliseconds. @default {60_000} */
  postgresReadyMs?: number;
  /** How long to poll Redis' PING before giving up, in milliseconds. @default {10_000} */
  redisReadyMs?: number;
  /** The instance's images. @default {its own settings and the upstream defaults} */
  images?: ServiceImages;
}

/**
 * stderr of `docker exec` into a container that is not running (it exited, or was never
 * created): a readiness poll gives up at once instead of waiting out its time.
 */
export const CONTAINER_GONE = "is not running|No such container";

/** Port of Redis inside its container (not published on the host). */
export const CONTAINER_REDIS_PORT = 6379;

/** Where the instance's Redis directory is mounted in its container. */
export const CONTAINER_REDIS_DIR = "/data";

/**
 * Where a docker instance's Redis listens: every interface of its container, which is
 * reachable only from the instance's network (no port is published).
 *
 * @returns The listen settings of the generated config.
 * @example
 * ```ts
 * import { dockerRedisListen } from "./docker_plan.ts";
 * dockerRedisListen().dir; // "/data"
 * ```
 */
export function dockerRedisListen(): RedisListen {
  return { port: CONTAINER_REDIS_PORT, bind: "0.0.0.0", dir: CONTAINER_REDIS_DIR };
}

/** REDIS_URL of a docker instance's app (inside its network). */
export function dockerRedisUrl(id: string, secrets: Secrets): string {
  return redisUrl(containerName(id, "redis"), CONTAINER_REDIS_PORT, secrets.redisPassword);
}

/**
 * A `docker exec` of `redis-cli` in an instance's Redis container, the password passed
 * by name (`-e REDISCLI_AUTH`) with its value in the step's environment.
 *
 * @param id Instance id.
 * @param password Its Redis password.
 * @param title What the step does.
 * @param args redis-cli arguments.
 * @param execFlags Flags of `docker exec` before `-e` (e.g. `["-i", "-t"]`). @default {[]}
 * @returns The step.
 * @example
 * ```ts
 * import { dockerRedisCliStep } from "./docker_plan.ts";
 * dockerRedisCliStep("demo", "pw", "PING", ["PING"]).args;
 * // ["exec", "-e", "REDISCLI_AUTH", "demo-redis", "redis-cli", "PING"]
 * ```
 */
export function dockerRedisCliStep(
  id: string,
  password: string,
  title: string,
  args: string[],
  execFlags: string[] = [],
): Step {
  return {
    title,
    command: "docker",
    args: [
      "exec",
      ...execFlags,
      "-e",
      "REDISCLI_AUTH",
      containerName(id, "redis"),
      "redis-cli",
      ...args,
    ],
    env: { REDISCLI_AUTH: password },
  };
}

/** The `--label dev.wb.instance=<id>` arguments of a docker resource of instance `id`. */
export const labelArgs = (id: string): string[] => ["--label", `${INSTANCE_LABEL}=${id}`];

/** `docker rm` of a leftover stopped container; a running one is left alone. */
function removeLeftover(id: string, service: Service, optional: boolean): Step {
  const name = containerName(id, service);
  return {
    title: `Remove leftover container ${name}`,
    command: "docker",
    args: ["rm", name],
    okIfStderr: "No such container|running container",
    ...(optional ? { optional } : {}),
  };
}

/** The DATABASE_URL of a docker instance (inside its network). */
export function dockerDatabaseUrl(id: string, secrets: Secrets): string {
  return `postgres://postgres:${encodeURIComponent(secrets.postgresPassword)}@${
    containerName(id, "postgres")
  }:5432/${DATABASE_NAME}`;
}

/**
 * Docker steps that start one service of an instance.
 *
 * Secrets are passed as `-e NAME` with the value in {@linkcode Step.env}, so they never
 * appear in `ps` or in error messages.
 *
 * @param instance The instance.
 * @param service The service.
 * @param context Secrets and timeouts.
 * @returns Steps, in order.
 * @example
 * ```ts
 * import { dockerStartSteps } from "./docker_plan.ts";
 * const instance = { id: "demo", port: 8710, instanceDir: "/wb/demo", tags: [] } as never;
 * dockerStartSteps(instance, "network", { secrets: { adminToken: "t", postgresPassword: "p", redisPassword: "r" } });
 * ```
 */
export function dockerStartSteps(
  instance: Instance,
  service: Service,
  context: DockerStartContext,
): Step[] {
  const { id, instanceDir } = instance;
  const { secrets } = context;
  const images = context.images ?? resolveImages(instance);
  const name = containerName(id, service);
  const runArgs = ["run", "-d", "--name", name, "--network", id, ...labelArgs(id)];
  switch (service) {
    case "network":
      return [{
        title: `Create network ${id}`,
        command: "docker",
        args: ["network", "create", ...labelArgs(id), id],
        okIfStderr: "already exists",
      }];
    case "postgres":
      return [
        removeLeftover(id, service, false),
        {
          title: `Start Postgres (${name})`,
          command: "docker",
          args: [
            ...runArgs,
            "-e",
            "POSTGRES_PASSWORD",
            "-e",
            `POSTGRES_DB=${DATABASE_NAME}`,
            "-v",
            `${instanceDir}/databases:/var/lib/postgresql/data`,
            images.postgres,
          ],
          env: { POSTGRES_PASSWORD: secrets.postgresPassword },
          okIfStderr: "is already in use",
        },
        {
          // Over TCP: during first-time initialisation the image runs a temporary server
          // on the Unix socket only, which must not count as ready.
          title: `Wait for Postgres (${name}) to accept connections`,
          command: "docker",
          args: [
            "exec",
            name,
            "pg_isready",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            DATABASE_NAME,
          ],
          retryForMs: context.postgresReadyMs ?? 60_000,
          giveUpIfStderr: CONTAINER_GONE,
          notReadyMessage: `Postgres of '${id}' did not accept connections`,
        },
      ];
    case "redis":
      return [
        removeLeftover(id, service, true),
        {
          title: `Start Redis (${name})`,
          command: "docker",
          args: [
            ...runArgs,
            "-v",
            `${instanceDir}/redis:${CONTAINER_REDIS_DIR}`,
            images.redis,
            "redis-server",
            `${CONTAINER_REDIS_DIR}/${REDIS_CONFIG_FILE}`,
          ],
          optional: true,
          hint: REDIS_DOWN_HINT,
          okIfStderr: "is already in use",
        },
        {
          ...dockerRedisCliStep(
            id,
            secrets.redisPassword,
            `Wait for Redis (${name}) to answer PING`,
            [
              "PING",
            ],
          ),
          retryForMs: context.redisReadyMs ?? 10_000,
          giveUpIfStderr: CONTAINER_GONE,
          expectStdout: REDIS_STARTED_STDOUT,
          notReadyMessage: `Redis of '${id}' did not answer PING`,
          optional: true,
          hint: REDIS_DOWN_HINT,
        },
      ];
    case "admin": {
      const image = images.admin;
      if (!image) return [];
      const adminEnv = dockerEnvArgs({
        databaseUrl: dockerDatabaseUrl(id, secrets),
        adminToken: secrets.adminToken,
        instance: id,
      });
      return [
        removeLeftover(id, service, false),
        {
          title: `Start admin (${name})`,
          command: "docker",
          args: [
            ...runArgs,
            ...adminEnv.args,
            image,
          ],
          env: adminEnv.env,
          okIfStderr: "is already in use",
        },
      ];
    }
    case "app": {
      const appEnv = dockerEnvArgs({
        port: CONTAINER_APP_PORT,
        databaseUrl: dockerDatabaseUrl(id, secrets),
        redisUrl: dockerRedisUrl(id, secrets),
        adminToken: secrets.adminToken,
        instance: id,
      });
      return [
        removeLeftover(id, service, false),
        {
          title: `Start app (${name}) on ${publishAddressOf(instance)}:${instance.port}`,
          command: "docker",
          args: [
            ...runArgs,
            "-p",
            `${publishAddressOf(instance)}:${instance.port}:${CONTAINER_APP_PORT}`,
            ...appEnv.args,
            ...appWorkerArgs(instance, images.app),
          ],
          env: appEnv.env,
          okIfStderr: "is already in use",
        },
      ];
    }
  }
}

/**
 * The tail of the app's `docker run`: the image alone (its command runs one process), or
 * with `workers` above 1, `DENO_JOBS` and the command `serve -A --parallel` on
 * `server/serve.ts` (the image's entrypoint prefixes `deno` to a deno subcommand).
 *
 * @param instance The instance.
 * @param image The app image. @default {the instance's, without global settings}
 * @returns Arguments, ending with the image (and its command).
 * @example
 * ```ts
 * import { appWorkerArgs } from "./docker_plan.ts";
 * appWorkerArgs({ workers: 4 } as never);
 * // ["-e", "DENO_JOBS=4", "wb-server:latest", "serve", "-A", "--parallel", "--port", "8000", "server/serve.ts"]
 * ```
 */
export function appWorkerArgs(
  instance: Pick<Instance, "images" | "serverVersion" | "workers">,
  image: string = appImage(instance),
): string[] {
  const workers = workersOf(instance);
  if (workers <= 1) return [image];
  return [
    ...dockerEnvArgs({ workers }).args,
    image,
    "serve",
    "-A",
    "--parallel",
    "--port",
    String(CONTAINER_APP_PORT),
    "server/serve.ts",
  ];
}

/**
 * Docker steps that stop one service. Postgres gets a 30 s grace period. Stopping
 * something that is not there counts as done.
 *
 * @param instance The instance.
 * @param service The service.
 * @returns Steps, in order.
 * @example
 * ```ts
 * import { dockerStopSteps } from "./docker_plan.ts";
 * dockerStopSteps({ id: "demo" } as never, "postgres")[0].args; // ["stop", "-t", "30", "demo-postgres"]
 * ```
 */
export function dockerStopSteps(instance: Instance, service: Service): Step[] {
  const { id } = instance;
  const name = containerName(id, service);
  if (service === "network") {
    return [{
      title: `Remove network ${id}`,
      command: "docker",
      args: ["network", "rm", id],
      okIfStderr: "not found|No such network",
    }];
  }
  if (service === "admin" && !instance.adminVersion) return [];
  return [{
    title: `Stop ${service} (${name})`,
    command: "docker",
    args: service === "postgres" ? ["stop", "-t", "30", name] : ["stop", name],
    okIfStderr: "No such container",
  }];
}

/**
 * The docker start plan: every service's start steps in {@linkcode START_ORDER}.
 *
 * @param instance The instance.
 * @param context Secrets and timeouts.
 * @returns Steps, in order.
 * @example
 * ```ts
 * import { planDockerStart } from "./docker_plan.ts";
 * const instance = { id: "demo", port: 8710, instanceDir: "/wb/demo", tags: [] } as never;
 * planDockerStart(instance, { secrets: { adminToken: "t", postgresPassword: "p", redisPassword: "r" } });
 * ```
 */
export function planDockerStart(instance: Instance, context: DockerStartContext): Step[] {
  return servicesOf(instance).flatMap((s) => dockerStartSteps(instance, s, context));
}

/**
 * The docker stop plan: every service's stop steps in {@linkcode STOP_ORDER}.
 *
 * @param instance The instance.
 * @returns Steps, in order.
 * @example
 * ```ts
 * import { planDockerStop } from "./docker_plan.ts";
 * planDockerStop({ id: "demo" } as never).map((s) => s.args.join(" "));
 * ```
 */
export function planDockerStop(instance: Instance): Step[] {
  return stopOrderOf(instance).flatMap((s) => dockerStopSteps(instance, s));
}

/**
 * The docker restart plan: the stop plan, then the start plan.
 *
 * @param instance The instance.
 * @param context Secrets and timeouts.
 * @returns Steps, in order.
 * @example
 * ```ts
 * import { planDockerRestart } from "./docker_plan.ts";
 * const instance = { id: "demo", port: 8710, instanceDir: "/wb/demo", tags: [] } as never;
 * planDockerRestart(instance, { secrets: { adminToken: "t", postgresPassword: "p", redisPassword: "r" } });
 * ```
 */
export function planDockerRestart(instance: Instance, context: DockerStartContext): Step[] {
  return [...planDockerStop(instance), ...planDockerStart(instance, context)];
}
