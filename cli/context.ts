/**
 * Everything the CLI functions need from the outside world, passed in as one value so
 * tests can point them at a temporary `WB_HOME`, a fake `docker` or a test app.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import type { ImageSettings } from "./images.ts";
import type { Reporter } from "./reporter.ts";

/** Dependencies of the CLI functions. Only `cli/main.ts` builds one from `Deno.env`. */
export interface WbContext {
  /** `WB_HOME`: holds `servers.json` and, by default, `instances/<id>`. */
  home: string;
  /** Absolute path of the repository root (holds `server/main.ts`, `server/load.ts`). */
  repoRoot: string;
  /** Receives progress and warnings. */
  reporter: Reporter;
  /** Extra environment for every spawned program (e.g. `PATH` with a fake `docker`). */
  env?: Record<string, string>;
  /** The `deno` binary used to run the app and the loader. @default {Deno.execPath()} */
  denoPath?: string;
  /** Current user id; root runs Postgres as `postgres`. @default {Deno.uid()} */
  uid?: number | null;
  /** Native runtime: the app's command line. @default {[deno, "run", "-A", "<repo>/server/main.ts"]} */
  appCommand?: string[];
  /** The loader's command line before its options. @default {[deno, "run", "-A", "<repo>/server/load.ts"]} */
  loaderCommand?: string[];
  /** How long to wait for the app's `/healthz`, in milliseconds. @default {60_000} */
  healthTimeoutMs?: number;
  /** How long to wait for Postgres to accept connections, in milliseconds. @default {60_000} */
  postgresReadyMs?: number;
  /** How long to wait for Redis to answer PING, in milliseconds. @default {10_000} */
  redisReadyMs?: number;
  /**
   * Native runtime as root: where Postgres files go when the `postgres` user cannot reach
   * the instance directory (e.g. under `/root`). @default {"/var/lib/wb/postgres"}
   */
  postgresFallbackRoot?: string;
  /** Echo the loader's output to the console. @default {false} */
  echoLoader?: boolean;
  /**
   * Aborted (with the signal's name as its reason) when the operator interrupts `wb`
   * (SIGINT, SIGTERM): lifecycle commands finish the step under way, then roll back a
   * partial start or finish a stop. Only `cli/main.ts` installs the signal handlers.
   */
  signal?: AbortSignal;
  /**
   * How long a command waits for another `wb` command holding the same lock (an instance,
   * or `servers.json`), in milliseconds; 0 fails at once. @default {300_000}
   */
  lockWaitMs?: number;
  /** What the running command is, recorded in the locks it takes (`wb restart web1`). */
  command?: string;
  /**
   * Build the web client before starting a native app when it is missing or older than
   * its sources. @default {true unless `appCommand` is set}
   */
  buildClient?: boolean;
  /**
   * Docker: the machine-wide image defaults (`WB_POSTGRES_IMAGE`, ...: see `cli/images.ts`),
   * below `servers.json`'s settings. @default {none: the upstream images}
   */
  imageDefaults?: ImageSettings;
}

/**
 * The repository root, from this module's location (`cli/..`).
 *
 * @returns Absolute path without a trailing slash.
 * @example
 * ```ts
 * import { defaultRepoRoot } from "./context.ts";
 * console.log(defaultRepoRoot()); // e.g. /work/main
 * ```
 */
export function defaultRepoRoot(): string {
  return fileURLToPath(new URL("../", import.meta.url)).replace(/\/$/, "");
}

/**
 * The `deno` binary of a context.
 *
 * @param context The context.
 * @returns `context.denoPath` or `Deno.execPath()`.
 * @example
 * ```ts
 * import { denoPathOf } from "./context.ts";
 * denoPathOf({} as never);
 * ```
 */
export function denoPathOf(context: Pick<WbContext, "denoPath">): string {
  return context.denoPath ?? Deno.execPath();
}

/**
 * Whether a context runs as root.
 *
 * @param context The context.
 * @returns `true` when the uid is 0.
 * @example
 * ```ts
 * import { isRoot } from "./context.ts";
 * isRoot({ uid: 0 }); // true
 * ```
 */
export function isRoot(context: Pick<WbContext, "uid">): boolean {
  return (context.uid === undefined ? Deno.uid() : context.uid) === 0;
}
