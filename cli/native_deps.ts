/**
 * What the native service modules (`native_postgres.ts`, `native_redis.ts`,
 * `native_app.ts`) share: the context, how steps run, who we are, and the instance's
 * paths (which depend on where Postgres keeps its files).
 *
 * @module
 */

import type { Instance } from "./instance_schema.ts";
import type { WbContext } from "./context.ts";
import type { NativePaths } from "./native_plan.ts";
import type { Ids } from "./native_files.ts";
import type { Reporter } from "./reporter.ts";
import type { RunOptions } from "./runner.ts";

/** Dependencies of one native service module. */
export interface NativeDeps {
  /** The context. */
  context: WbContext;
  /** Its reporter. */
  reporter: Reporter;
  /** How steps run (environment, reporter, retry interval). */
  options: RunOptions;
  /** Whether `wb` runs as root (Postgres then runs as the `postgres` user). */
  root: boolean;
  /** The user `wb` (and Redis and the app) run as. */
  uid: number;
  /** The user and group Postgres runs as (`postgres` when root, else ours). */
  postgresIds(): Promise<Ids>;
  /**
   * The instance's paths. With `create`, also makes the directories Postgres needs (as
   * `postgres` when root) and decides where Postgres keeps its files.
   */
  paths(instance: Instance, create: boolean): Promise<NativePaths>;
}
