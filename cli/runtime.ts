/**
 * The runtime contract: how one service of an instance is started, stopped and
 * inspected. The order comes from `plan.ts`; runtimes only know single services.
 *
 * @module
 */

import type { Instance } from "./config.ts";
import { readStartRecord, type StartRecord } from "./instance_state.ts";
import type { LoadOptions, LogsOptions, Service, Step } from "./plan.ts";
import { type HealthProbe, probeHttp } from "./process.ts";
import type { RedisInfo } from "./redis_config.ts";
import { readSecrets, type Secrets } from "./secrets.ts";

/** State of one service. */
export interface ServiceState {
  /** The service. */
  service: Service;
  /** Whether it is running. */
  running: boolean;
  /** Pid, container name or reason, for people. */
  detail: string;
  /** The runtime's word for the state: docker's `running`, `exited`, `created`...; `absent`. */
  state?: string;
  /** When the container started (docker, ISO 8601). */
  startedAt?: string;
}

/** What the app's `/healthz` said. */
export interface AppHealth {
  /** `version` (the app version). */
  version?: string;
  /** `redis`: `up`, `down` or `disabled`. */
  redis?: string;
  /** `uptimeS`: seconds since the app process started. */
  uptimeS?: number;
}

/** What `wb status` reports for one instance. */
export interface InstanceStatus {
  /** Instance id. */
  id: string;
  /** Instance label. */
  label: string;
  /** Its runtime. */
  runtime: Instance["runtime"];
  /** Base URL of the app. */
  url: string;
  /** Each service's state, in start order. */
  services: ServiceState[];
  /** Result of `GET /healthz`. */
  health: HealthProbe;
  /** The app's own report from `/healthz`, when it answered. */
  app?: AppHealth;
  /** Keys in the instance's Redis, when Redis answered. */
  redisKeys?: number;
  /** Memory and AOF state of the instance's Redis (from `INFO`), when Redis answered. */
  redis?: RedisInfo;
  /** The last successful `wb run` / `wb restart`. */
  lastStart?: StartRecord;
}

/** Starts, stops and inspects single services of an instance. */
export interface Runtime {
  /**
   * Starts one service and waits until it is ready. Idempotent: a running service is
   * left as is. A Redis that fails is a warning, not an error.
   */
  start(instance: Instance, service: Service, secrets: Secrets): Promise<void>;
  /** Stops one service; one that is not running is fine. */
  stop(instance: Instance, service: Service): Promise<void>;
  /** Reports every service's state, `/healthz` and the Redis key count. */
  status(instance: Instance): Promise<InstanceStatus>;
  /** Redis `DBSIZE`, or `undefined` when Redis does not answer. */
  redisKeyCount(instance: Instance): Promise<number | undefined>;
  /** Redis `INFO`, parsed, or `undefined` when Redis does not answer. */
  redisInfo(instance: Instance): Promise<RedisInfo | undefined>;
  /**
   * Empties the instance's Redis database (`FLUSHDB`, authenticated).
   *
   * @throws {CommandFailedError} When Redis does not answer `OK`.
   */
  flushRedis(instance: Instance): Promise<void>;
  /**
   * Removes what a failed start left behind: docker removes every resource labelled
   * `dev.wb.instance=<id>`; native stops every service. Data on disk stays.
   *
   * @returns What it did, for the message (`removed container web-postgres`, `stopped redis`).
   */
  rollback(instance: Instance): Promise<string[]>;
  /** The command that prints (or follows) one service's log. */
  logsStep(instance: Instance, service: Service, options: LogsOptions): Promise<Step>;
  /**
   * The command that runs `redis-cli` against the instance's Redis, authenticated through
   * `REDISCLI_AUTH` in its environment.
   *
   * @param instance The instance.
   * @param args redis-cli arguments.
   * @param tty Whether our stdin is a terminal (docker then allocates one).
   */
  redisCliStep(instance: Instance, args: string[], tty: boolean): Promise<Step>;
  /**
   * Rows in `facilities`; 0 when the table does not exist yet.
   *
   * @throws {CliError} Code `not_running` when Postgres does not answer.
   */
  countFacilities(instance: Instance): Promise<number>;
  /** Runs the app's loader against the instance's database. */
  load(instance: Instance, secrets: Secrets, options: LoadOptions): Promise<void>;
}

/**
 * The base URL of an instance's app.
 *
 * @param instance The instance.
 * @returns `http://127.0.0.1:<port>`.
 * @example
 * ```ts
 * import { appUrl } from "./runtime.ts";
 * appUrl({ port: 8710 }); // "http://127.0.0.1:8710"
 * ```
 */
export function appUrl(instance: Pick<Instance, "port">): string {
  return `http://127.0.0.1:${instance.port}`;
}

/**
 * Parses the output of a SQL count or `DBSIZE`.
 *
 * @param stdout Command output.
 * @returns The integer, or `undefined` when there is none.
 * @example
 * ```ts
 * import { parseCount } from "./runtime.ts";
 * parseCount("42\n"); // 42
 * ```
 */
export function parseCount(stdout: string): number | undefined {
  const match = stdout.trim().match(/-?\d+/);
  return match ? Number(match[0]) : undefined;
}

/**
 * The Redis password of an instance, or `undefined` when it has no secrets file yet (never
 * started). Generates and stores one for an instance made before passwords existed.
 *
 * @param instance The instance.
 * @returns The password.
 * @example
 * ```ts
 * import { redisPasswordOf } from "./runtime.ts";
 * await redisPasswordOf({ instanceDir: "/nonexistent" }); // undefined
 * ```
 */
export async function redisPasswordOf(
  instance: Pick<Instance, "instanceDir">,
): Promise<string | undefined> {
  return await readSecrets(instance.instanceDir).then((s) => s.redisPassword, () => undefined);
}

/**
 * Reads the app's report out of a `/healthz` probe.
 *
 * @param probe The probe.
 * @returns Version, Redis state and uptime, when the body had them.
 * @example
 * ```ts
 * import { appHealthOf } from "./runtime.ts";
 * appHealthOf({ ok: true, ms: 1, body: { version: "0.1.0", redis: "up" } }).version; // "0.1.0"
 * ```
 */
export function appHealthOf(probe: HealthProbe): AppHealth | undefined {
  if (!probe.ok || typeof probe.body !== "object" || probe.body === null) return undefined;
  const body = probe.body as Record<string, unknown>;
  return {
    ...(typeof body.version === "string" ? { version: body.version } : {}),
    ...(typeof body.redis === "string" ? { redis: body.redis } : {}),
    ...(typeof body.uptimeS === "number" ? { uptimeS: body.uptimeS } : {}),
  };
}

/**
 * Assembles an instance's status from its services: probes the app's `/healthz`, asks the
 * runtime for Redis' `INFO` and reads the last start. Shared by every runtime so the
 * record has one shape.
 *
 * @param runtime Anything with `redisInfo`.
 * @param instance The instance.
 * @param services Each service's state.
 * @returns The status.
 */
export async function instanceStatus(
  runtime: Pick<Runtime, "redisInfo">,
  instance: Instance,
  services: ServiceState[],
): Promise<InstanceStatus> {
  const health = await probeHttp(`${appUrl(instance)}/healthz`);
  const app = appHealthOf(health);
  const redis = await runtime.redisInfo(instance);
  const lastStart = await readStartRecord(instance.instanceDir);
  return {
    id: instance.id,
    label: instance.label,
    runtime: instance.runtime,
    url: appUrl(instance),
    services,
    health,
    ...(app ? { app } : {}),
    ...(redis ? { redisKeys: redis.keys, redis } : {}),
    ...(lastStart ? { lastStart } : {}),
  };
}
