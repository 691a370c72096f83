/**
 * The runtime contract: how one service of an instance is started, stopped and
 * inspected. The order comes from `plan.ts`; runtimes only know single services.
 *
 * @module
 */

import type { Instance } from "./instance_schema.ts";
import { readStartRecord, type StartRecord } from "./instance_state.ts";
import type { LoadOptions, LogsOptions, Service, Step } from "./plan.ts";
import { type HealthProbe, probeHttp } from "./process.ts";
import { type RedisInfo, redisWarnings } from "./redis_config.ts";
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
  /** The image the container runs (docker; what it was created from). */
  image?: string;
  /**
   * The image the configuration names for this service now (docker); differs from `image`
   * until the next restart after `wb c update ... --*-image` or a new server version.
   */
  configuredImage?: string;
}

/** What the app's `/healthz` said. */
export interface AppHealth {
  /** `instance`: the id of the instance that answered (it must be this one). */
  instance?: string;
  /** `version` (the app version). */
  version?: string;
  /** `postgres`: `up` or `down`. */
  postgres?: string;
  /** `redis`: `up`, `down` or `disabled`. */
  redis?: string;
  /** `uptimeS`: seconds since the app process started. */
  uptimeS?: number;
}

/**
 * How an instance is, as `wb status` judges it:
 * - `healthy`: every service runs and `/healthz` of this instance says Postgres and Redis
 *   are up;
 * - `degraded`: it serves, but uncached (Redis down);
 * - `unhealthy`: something it needs is down, another program answers its port, or its
 *   config clashes with another instance;
 * - `stopped`: nothing of it runs;
 * - `unknown`: its state cannot be read (the Docker daemon is unreachable).
 */
export type Verdict = "healthy" | "degraded" | "unhealthy" | "stopped" | "unknown";

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
  /** The judgement (see {@linkcode Verdict}). */
  verdict: Verdict;
  /** Why it is not healthy, one line each (empty when healthy or stopped). */
  problems: string[];
  /**
   * What may soon hurt without being a fault yet (Redis evicting, nearly full, loading its
   * AOF; see `redisWarnings`), one line each. They do not change the verdict.
   */
  warnings?: string[];
  /** The docker runtime could not reach its daemon: the states are unknown. */
  daemonUnreachable?: string;
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
   * Native: the files of one service's log, oldest first (rotated ones, then the current
   * one); `wb logs` reads them itself to apply `--since`. Absent for docker.
   */
  logFiles?(instance: Instance, service: Service): Promise<string[]>;
  /**
   * What would make a start of this instance fail, checked without touching it (a port
   * held by another program, a missing program, an unreachable Docker daemon): one message
   * each, empty when a start can proceed. Ports held by the instance's own processes are
   * fine.
   */
  preflight(instance: Instance): Promise<string[]>;
  /** The DATABASE_URL tools of the host use for this instance (`wb user`). */
  databaseUrl?(instance: Instance, secrets: Secrets): Promise<string>;
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
 * The URL people open: the instance's `publicUrl`, else {@linkcode appUrl}.
 *
 * @param instance The instance.
 * @returns A base URL without a trailing slash.
 * @example
 * ```ts
 * import { publicUrlOf } from "./runtime.ts";
 * publicUrlOf({ port: 8710, publicUrl: "https://wb.example.org" }); // "https://wb.example.org"
 * ```
 */
export function publicUrlOf(instance: Pick<Instance, "port" | "publicUrl">): string {
  return instance.publicUrl ?? appUrl(instance);
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
  if (typeof probe.body !== "object" || probe.body === null) return undefined;
  const body = probe.body as Record<string, unknown>;
  return {
    ...(typeof body.instance === "string" ? { instance: body.instance } : {}),
    ...(typeof body.postgres === "string" ? { postgres: body.postgres } : {}),
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
  daemonUnreachable?: string,
): Promise<InstanceStatus> {
  const health = await probeHttp(`${appUrl(instance)}/healthz`);
  const app = appHealthOf(health);
  const redis = daemonUnreachable ? undefined : await runtime.redisInfo(instance);
  const lastStart = await readStartRecord(instance.instanceDir);
  const status: InstanceStatus = {
    id: instance.id,
    label: instance.label,
    runtime: instance.runtime,
    url: publicUrlOf(instance),
    services,
    health,
    ...(app ? { app } : {}),
    ...(redis ? { redisKeys: redis.keys, redis, warnings: redisWarnings(redis, instance.id) } : {}),
    ...(lastStart ? { lastStart } : {}),
    ...(daemonUnreachable ? { daemonUnreachable } : {}),
    verdict: "healthy",
    problems: [],
  };
  return judge(status, instance.id);
}

/**
 * Sets `verdict` and `problems` of a status from its services, its `/healthz` answer and
 * any config clashes passed in `extra`.
 *
 * @param status The status (its `verdict` and `problems` are replaced).
 * @param id The instance id `/healthz` must report.
 * @param extra Problems found elsewhere (e.g. a port another instance also uses).
 * @returns The same status.
 * @example
 * ```ts
 * import { judge } from "./runtime.ts";
 * const status = judge({ services: [], health: { ok: false, ms: 1 }, problems: [] } as never, "a");
 * status.verdict; // "stopped"
 * ```
 */
export function judge(status: InstanceStatus, id: string, extra: string[] = []): InstanceStatus {
  const problems: string[] = [];
  const counted = status.services.filter((s) =>
    s.service !== "network" && !(s.service === "admin" && s.state === "absent" && !s.running)
  );
  const answeredBy = status.app?.instance;
  const foreign = answeredBy !== undefined && answeredBy !== id;
  if (status.daemonUnreachable) {
    // Unknown, unless what is known already makes it unhealthy.
    const known = [
      ...(foreign ? [`its port answers as instance '${answeredBy}', not '${id}'`] : []),
      ...extra,
    ];
    status.verdict = known.length > 0 ? "unhealthy" : "unknown";
    status.problems = [status.daemonUnreachable, ...known];
    return status;
  }
  if (counted.every((s) => !s.running) && !status.health.ok && !foreign && !status.health.status) {
    status.verdict = extra.length > 0 ? "unhealthy" : "stopped";
    status.problems = [...extra];
    return status;
  }
  for (const s of counted) if (!s.running) problems.push(`${s.service} is ${s.state ?? "stopped"}`);
  if (foreign) {
    problems.push(`its port answers as instance '${answeredBy}', not '${id}'`);
  } else if (!status.health.ok) {
    problems.push(
      `/healthz: ${
        status.health.status ? `HTTP ${status.health.status}` : status.health.error ?? "no answer"
      }`,
    );
  }
  if (!foreign && status.app?.postgres === "down") problems.push("the app cannot reach Postgres");
  if (!foreign && status.app?.redis === "down") {
    problems.push("the app cannot reach Redis (serving uncached)");
  }
  problems.push(...extra);
  status.problems = problems;
  const aboutRedis = (p: string) => p.startsWith("redis is ") || p.includes("reach Redis");
  status.verdict = problems.length === 0
    ? "healthy"
    : problems.every(aboutRedis)
    ? "degraded"
    : "unhealthy";
  return status;
}
