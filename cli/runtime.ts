/**
 * The runtime contract: how one service of an instance is started, stopped and
 * inspected. The order comes from `plan.ts`; runtimes only know single services.
 *
 * @module
 */

import type { Instance } from "./config.ts";
import type { LoadOptions, Service } from "./plan.ts";
import { type HealthProbe, probeHttp } from "./process.ts";
import type { Secrets } from "./secrets.ts";

/** State of one service. */
export interface ServiceState {
  /** The service. */
  service: Service;
  /** Whether it is running. */
  running: boolean;
  /** Pid, container name or reason, for people. */
  detail: string;
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
  /** Redis `DBSIZE`, when Redis answered. */
  redisKeys?: number;
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
  /** Empties the instance's Redis database. */
  flushRedis(instance: Instance): Promise<void>;
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
 * Assembles an instance's status from its services: probes the app's `/healthz` and asks the
 * runtime for the Redis key count. Shared by every runtime so the record has one shape.
 */
export async function instanceStatus(
  runtime: Pick<Runtime, "redisKeyCount">,
  instance: Instance,
  services: ServiceState[],
): Promise<InstanceStatus> {
  return {
    id: instance.id,
    label: instance.label,
    runtime: instance.runtime,
    url: appUrl(instance),
    services,
    health: await probeHttp(`${appUrl(instance)}/healthz`),
    redisKeys: await runtime.redisKeyCount(instance),
  };
}
