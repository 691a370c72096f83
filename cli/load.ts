/**
 * `wb load`: loading the facility data into a running instance with the app's loader,
 * then counting what was loaded.
 *
 * @module
 */

import { loadConfig, resolveTargets } from "./config.ts";
import type { WbContext } from "./context.ts";
import { runtimeFor } from "./instances.ts";
import type { LoadOptions } from "./plan.ts";
import { ensureSecrets, generateSecrets } from "./secrets.ts";

/** Options of {@linkcode loadInstance}. */
export interface LoadInstanceOptions extends LoadOptions {
  /** Load even when the database already has facilities. @default {false} */
  reload?: boolean;
}

/** Result of {@linkcode loadInstance}. */
export interface LoadResult {
  /** `true` when data was already there and nothing was loaded. */
  skipped: boolean;
  /** Facilities in the database afterwards. */
  facilities: number;
}

/**
 * `wb load <id>`: runs the app's loader against the instance's database, unless it
 * already has facilities (then nothing happens, unless `reload`).
 *
 * @param context The context.
 * @param id Instance id.
 * @param options CSV, scale, months, reload.
 * @returns Whether it loaded and how many facilities there are.
 * @throws {UnknownTargetError} On an unknown id.
 * @throws {CliError} Code `not_running` when Postgres does not answer.
 * @example
 * ```ts
 * import { loadInstance } from "./load.ts";
 * import { consoleReporter } from "./reporter.ts";
 * await loadInstance({ home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() }, "demo", {});
 * ```
 */
export async function loadInstance(
  context: WbContext,
  id: string,
  options: LoadInstanceOptions = {},
): Promise<LoadResult> {
  const [instance] = resolveTargets(await loadConfig(context.home), [id]);
  const runtime = runtimeFor(context, instance);
  const before = await runtime.countFacilities(instance);
  if (before > 0 && !options.reload) {
    context.reporter.info(
      `'${id}' already has ${before} facilities; not reloading (use --reload to load again)`,
    );
    return { skipped: true, facilities: before };
  }
  const secrets = await ensureSecrets(instance.instanceDir, generateSecrets());
  const { reload: _, ...loadOptions } = options;
  await runtime.load(instance, secrets, loadOptions);
  const facilities = await runtime.countFacilities(instance);
  context.reporter.info(`Loaded '${id}': ${facilities} facilities`);
  return { skipped: false, facilities };
}
