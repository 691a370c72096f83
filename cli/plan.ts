/**
 * What to run, as plain data. Pure: no `Deno.*` calls. The runner executes these steps;
 * tests assert them.
 *
 * The start order is computed once from {@linkcode SERVICE_DEPENDENCIES}; the stop order
 * is its reverse and is the only stop order (used by `stop` and by `restart`).
 *
 * @module
 */

import { dockerEnvArgs } from "../server/env_contract.ts";
import { DEFAULT_PUBLISH_ADDRESS, type Instance, workersOf } from "./config.ts";
import { resolveImages, type ServiceImages } from "./images.ts";
import { REDIS_CONFIG_FILE, type RedisListen, redisUrl } from "./redis_config.ts";
import type { Secrets } from "./secrets.ts";

/** One external command to run. */
export interface Step {
  /** What the step does, shown while it runs. */
  title: string;
  /** Program to run (looked up on `PATH`). */
  command: string;
  /** Its arguments. Never contains secrets (those go in `env`). */
  args: string[];
  /** A failure is reported as a warning and the plan continues. @default {false} */
  optional?: boolean;
  /** Added to the warning when an optional step fails (what happens next). */
  hint?: string;
  /** Extra environment variables for the program (secrets passed by name, e.g. `-e NAME`). */
  env?: Record<string, string>;
  /**
   * Regular expression (source) matched against stderr of a failed run; a match counts
   * as success (e.g. "already exists" when creating a network that is there).
   */
  okIfStderr?: string;
  /** Re-run until it succeeds, for at most this many milliseconds (readiness polls). */
  retryForMs?: number;
  /**
   * Regular expression (source) matched against stderr of a failed attempt of a retried
   * step: a match ends the retries at once (e.g. the container waited for has exited).
   */
  giveUpIfStderr?: string;
  /**
   * What did not become ready when a retried step runs out of `retryForMs`, e.g.
   * "Postgres of 'web' did not accept connections"; the failure is then a
   * `ReadinessTimeoutError` saying so, followed by the last attempt's command and stderr.
   */
  notReadyMessage?: string;
  /**
   * Regular expression (source) stdout must match for an exit code 0 to count as success
   * (`redis-cli` exits 0 on an error reply such as `NOAUTH`).
   */
  expectStdout?: string;
  /** Working directory. @default {the current one} */
  cwd?: string;
  /** Kill the program (not its children) after this many milliseconds; counts as a failure. */
  timeoutMs?: number;
  /** Text written to the program's standard input (secrets the program reads there). */
  stdin?: string;
}

/** The services of an instance. */
export type Service = "network" | "postgres" | "redis" | "admin" | "app";

/**
 * What each service needs running first. Declaration order breaks ties, so the
 * computed start order is network, postgres, redis, admin, app.
 */
export const SERVICE_DEPENDENCIES: Readonly<Record<Service, readonly Service[]>> = {
  network: [],
  postgres: ["network"],
  redis: ["network"],
  admin: ["network", "postgres"],
  app: ["network", "postgres", "redis"],
};

/**
 * Orders services so that each comes after its dependencies (Kahn's algorithm, ties
 * broken by declaration order).
 *
 * @param dependencies Service → services it needs.
 * @returns The start order.
 * @throws {RangeError} If the dependencies have a cycle.
 * @example
 * ```ts
 * import { SERVICE_DEPENDENCIES, startOrderOf } from "./plan.ts";
 * startOrderOf(SERVICE_DEPENDENCIES); // ["network", "postgres", "redis", "admin", "app"]
 * ```
 */
export function startOrderOf<S extends string>(
  dependencies: Readonly<Record<S, readonly S[]>>,
): S[] {
  const remaining = Object.keys(dependencies) as S[];
  const order: S[] = [];
  while (remaining.length > 0) {
    const next = remaining.findIndex((s) => dependencies[s].every((d) => order.includes(d)));
    if (next < 0) {
      throw new RangeError(`Cannot order services: cycle among ${remaining.join(", ")}`);
    }
    order.push(...remaining.splice(next, 1));
  }
  return order;
}

/** Start order of the services, computed from {@linkcode SERVICE_DEPENDENCIES}. */
export const START_ORDER: readonly Service[] = Object.freeze(startOrderOf(SERVICE_DEPENDENCIES));

/** Stop order: the reverse of {@linkcode START_ORDER}. Used by both `stop` and `restart`. */
export const STOP_ORDER: readonly Service[] = Object.freeze([...START_ORDER].reverse());

/** Subdirectories of every instance directory, created on init and on every run. */
export const SUBDIRECTORIES: readonly string[] = Object.freeze([
  "databases",
  "sandbox",
  "exports",
  "assets",
  "redis",
]);

/** Docker label put on every container and network: `dev.wb.instance=<id>`. */
export const INSTANCE_LABEL = "dev.wb.instance";

/** What a failed Redis start means for the instance. */
export const REDIS_DOWN_HINT = "The app starts anyway and runs uncached until Redis is back.";

/**
 * What `redis-cli PING` prints once Redis counts as started (a regular expression source):
 * `PONG`, or `LOADING …` while it reads its append-only file back after a restart. A large
 * AOF takes seconds to minutes to load (docs/operations.md, "Sizing"); during that time the
 * app answers every cached request from Postgres (a `LOADING` reply is a cache bypass,
 * `lib/tim_cache_c.ts`) and uses Redis again the moment the load ends, so `wb` does not
 * wait for it (issue 16).
 */
export const REDIS_STARTED_STDOUT = "^(PONG|LOADING)";

/**
 * Whether a `redis-cli PING` reply means Redis is started: `PONG`, or `LOADING` while it
 * reads its AOF (see {@linkcode REDIS_STARTED_STDOUT}).
 *
 * @param stdout What `redis-cli PING` printed (it exits 0 on an error reply).
 * @returns `true` for `PONG` and `LOADING Redis is loading the dataset in memory`.
 * @example
 * ```ts
 * import { redisStarted } from "./plan.ts";
 * redisStarted("LOADING Redis is loading the dataset in memory\n"); // true
 * redisStarted("NOAUTH Authentication required.\n"); // false
 * ```
 */
export function redisStarted(stdout: string): boolean {
  return new RegExp(REDIS_STARTED_STDOUT).test(stdout.trim());
}

/** Name of the application database. */
export const DATABASE_NAME = "wb";

/** Port the app listens on inside its container. */
export const CONTAINER_APP_PORT = 8000;

/**
 * The host address a docker instance's app port is published on.
 *
 * @param instance The instance.
 * @returns `publishAddress`, else `127.0.0.1` (this machine only).
 * @example
 * ```ts
 * import { publishAddressOf } from "./plan.ts";
 * publishAddressOf({}); // "127.0.0.1"
 * ```
 */
export function publishAddressOf(instance: Pick<Instance, "publishAddress">): string {
  return instance.publishAddress ?? DEFAULT_PUBLISH_ADDRESS;
}

/**
 * Services an instance actually has, in start order (admin only with `adminVersion`).
 *
 * @param instance The instance.
 * @returns A subsequence of {@linkcode START_ORDER}.
 * @example
 * ```ts
 * import { servicesOf } from "./plan.ts";
 * servicesOf({ runtime: "docker" } as never); // ["network", "postgres", "redis", "app"]
 * ```
 */
export function servicesOf(instance: Pick<Instance, "adminVersion">): Service[] {
  return START_ORDER.filter((s) => s !== "admin" || Boolean(instance.adminVersion));
}

/**
 * Services an instance actually has, in stop order: {@linkcode STOP_ORDER} restricted to
 * {@linkcode servicesOf}. The only stop order; `stop` and `restart` both use it.
 *
 * @param instance The instance.
 * @returns A subsequence of {@linkcode STOP_ORDER}.
 * @example
 * ```ts
 * import { stopOrderOf } from "./plan.ts";
 * stopOrderOf({}); // ["app", "redis", "postgres", "network"]
 * ```
 */
export function stopOrderOf(instance: Pick<Instance, "adminVersion">): Service[] {
  const services = servicesOf(instance);
  return STOP_ORDER.filter((s) => services.includes(s));
}

/**
 * The app image of an instance: its app repository (`wb-server` unless configured) tagged
 * with its server version (`latest` unless set).
 *
 * @param instance The instance.
 * @param images Its resolved images. @default {the instance's own settings and the defaults}
 * @returns Image reference.
 * @example
 * ```ts
 * import { appImage } from "./plan.ts";
 * appImage({}); // "wb-server:latest"
 * ```
 */
export function appImage(
  instance: Pick<Instance, "images" | "serverVersion" | "adminVersion">,
  images: ServiceImages = resolveImages(instance),
): string {
  return images.app;
}

/**
 * The admin image of an instance, when it has one: `wb-admin:<adminVersion>`.
 *
 * @param instance The instance.
 * @returns Image reference, or `undefined` without `adminVersion`.
 * @example
 * ```ts
 * import { adminImage } from "./plan.ts";
 * adminImage({ adminVersion: "1.2" }); // "wb-admin:1.2"
 * ```
 */
export function adminImage(instance: Pick<Instance, "adminVersion">): string | undefined {
  return resolveImages(instance).admin;
}

/**
 * Container names of an instance's services (the network is named `<id>` too).
 *
 * @param id Instance id.
 * @param service The service.
 * @returns `<id>` for the app and network, `<id>-<service>` otherwise.
 * @example
 * ```ts
 * import { containerName } from "./plan.ts";
 * containerName("demo", "postgres"); // "demo-postgres"
 * ```
 */
export function containerName(id: string, service: Service): string {
  return service === "app" || service === "network" ? id : `${id}-${service}`;
}

/** One image a set of docker instances needs, and who needs it. */
export interface ImageUse {
  /** Image reference. */
  image: string;
  /** `<id> <service>` of every service that runs it, e.g. `web postgres`. */
  usedBy: string[];
  /** Our own image (app, admin): often built locally and absent from every registry. */
  own: boolean;
}

/**
 * Every image the given docker instances run, each once, in first-use order (services in
 * start order).
 *
 * @param instances Each docker instance's id and resolved images.
 * @returns The images with the services using them.
 * @example
 * ```ts
 * import { imagesToPull } from "./plan.ts";
 * import { resolveImages } from "./images.ts";
 * imagesToPull([{ id: "a", images: resolveImages({}) }]).map((u) => u.image);
 * // ["postgres:17.4", "redis:7-alpine", "wb-server:latest"]
 * ```
 */
export function imagesToPull(
  instances: readonly { id: string; images: ServiceImages }[],
): ImageUse[] {
  const uses = new Map<string, ImageUse>();
  for (const { id, images } of instances) {
    const services: [Service, string | undefined][] = [
      ["postgres", images.postgres],
      ["redis", images.redis],
      ["admin", images.admin],
      ["app", images.app],
    ];
    for (const [service, image] of services) {
      if (!image) continue;
      const use = uses.get(image) ??
        { image, usedBy: [], own: service === "app" || service === "admin" };
      use.usedBy.push(`${id} ${service}`);
      uses.set(image, use);
    }
  }
  return [...uses.values()];
}

/**
 * The `docker pull` step of one image. Whether a failure matters is `wb pull`'s call: an
 * image the engine already has (our own, built by `wb build`; a local stand-in) still runs.
 *
 * @param use The image and who uses it.
 * @returns The step.
 * @example
 * ```ts
 * import { pullStep } from "./plan.ts";
 * pullStep({ image: "redis:7-alpine", usedBy: ["a redis"], own: false }).args; // ["pull", "redis:7-alpine"]
 * ```
 */
export function pullStep(use: ImageUse): Step {
  return {
    title: `Pull ${use.image}`,
    command: "docker",
    args: ["pull", use.image],
  };
}

/**
 * The step that tells whether an image is present in the engine (`docker image inspect`).
 *
 * @param image Image reference.
 * @returns The step; exit code 0 when present, its stdout the image id.
 */
export function imagePresentStep(image: string): Step {
  return {
    title: `Look for ${image} in the engine`,
    command: "docker",
    args: ["image", "inspect", "--format", "{{.Id}}", image],
  };
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
 * import { dockerRedisListen } from "./plan.ts";
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
 * import { dockerRedisCliStep } from "./plan.ts";
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

const label = (id: string) => ["--label", `${INSTANCE_LABEL}=${id}`];

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
 * import { dockerStartSteps } from "./plan.ts";
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
  const runArgs = ["run", "-d", "--name", name, "--network", id, ...label(id)];
  switch (service) {
    case "network":
      return [{
        title: `Create network ${id}`,
        command: "docker",
        args: ["network", "create", ...label(id), id],
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
 * import { appWorkerArgs } from "./plan.ts";
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
 * import { dockerStopSteps } from "./plan.ts";
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
 * import { planDockerStart } from "./plan.ts";
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
 * import { planDockerStop } from "./plan.ts";
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
 * import { planDockerRestart } from "./plan.ts";
 * const instance = { id: "demo", port: 8710, instanceDir: "/wb/demo", tags: [] } as never;
 * planDockerRestart(instance, { secrets: { adminToken: "t", postgresPassword: "p", redisPassword: "r" } });
 * ```
 */
export function planDockerRestart(instance: Instance, context: DockerStartContext): Step[] {
  return [...planDockerStop(instance), ...planDockerStart(instance, context)];
}

/** What the loader (`server/load.ts`) should load. */
export interface LoadOptions {
  /** CSV of health facilities; the loader generates a synthetic list when unset. */
  facilitiesCsv?: string;
  /** Scale factor of the generated data. */
  scale?: number;
  /** Months of data to generate. */
  months?: number;
}

/**
 * Arguments of `server/load.ts` for the given options.
 *
 * @param options What to load; `facilitiesCsv` is the path as the loader will see it.
 * @returns Arguments after `server/load.ts`.
 * @example
 * ```ts
 * import { loaderArgs } from "./plan.ts";
 * loaderArgs({ scale: 2 }); // ["--scale", "2"]
 * ```
 */
export function loaderArgs(options: LoadOptions): string[] {
  return [
    ...(options.facilitiesCsv ? ["--facilities", options.facilitiesCsv] : []),
    ...(options.scale !== undefined ? ["--scale", String(options.scale)] : []),
    ...(options.months !== undefined ? ["--months", String(options.months)] : []),
  ];
}

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
 * import { dockerLoadStep } from "./plan.ts";
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
      ...label(id),
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

/** SQL that counts loaded facilities (the loader's main table). */
export const COUNT_FACILITIES_SQL = "select count(*) from facilities";

/**
 * The docker step that counts loaded facilities via `psql` in the Postgres container.
 *
 * @param instance The instance.
 * @returns The step; its stdout is the count.
 * @example
 * ```ts
 * import { dockerCountFacilitiesStep } from "./plan.ts";
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
 * import { dockerRollbackPlan } from "./plan.ts";
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

/** Options of `wb logs`. */
export interface LogsOptions {
  /** Keep printing new lines. @default {false} */
  follow?: boolean;
  /** Print only the last lines. @default {all of them} */
  tailLines?: number;
  /** Print only lines logged at or after this time. @default {all of them} */
  since?: Date;
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
 * import { dockerLogsStep } from "./plan.ts";
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
