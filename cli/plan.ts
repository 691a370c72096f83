/**
 * What every runtime's plan shares, as plain data: the {@linkcode Step} the runner executes,
 * the services and their start and stop order, the loader's arguments and the readiness
 * markers. Pure: no `Deno.*` calls. The docker plan is in `docker_plan.ts` (start, stop) and
 * `docker_ops_plan.ts` (load, logs, rollback); the native one in `native_plan.ts`.
 *
 * The start order is computed once from {@linkcode SERVICE_DEPENDENCIES}; the stop order
 * is its reverse and is the only stop order (used by `stop` and by `restart`).
 *
 * @module
 */

import type { Instance } from "./instance_schema.ts";

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

/** SQL that counts loaded facilities (the loader's main table). */
export const COUNT_FACILITIES_SQL = "select count(*) from facilities";

/** Options of `wb logs`. */
export interface LogsOptions {
  /** Keep printing new lines. @default {false} */
  follow?: boolean;
  /** Print only the last lines. @default {all of them} */
  tailLines?: number;
  /** Print only lines logged at or after this time. @default {all of them} */
  since?: Date;
}
