/**
 * The `wb` CLI as a library: what other folders (tests, benchmarks, docs tooling) import.
 * `cli/main.ts` is only the command-line entry.
 *
 * @example Start an instance and read its admin token
 * ```ts
 * import { consoleReporter, loadConfig, readAdminToken, runTargets } from "./mod.ts";
 * const context = { home: "/root/.wb", repoRoot: "/work/main", reporter: consoleReporter() };
 * await runTargets(context, ["demo"]);
 * const [demo] = (await loadConfig(context.home)).instances;
 * const token = await readAdminToken(demo);
 * ```
 *
 * @module
 */

export * from "./app_build.ts";
export * from "./batch.ts";
export * from "./config.ts";
export * from "./config_commands.ts";
export * from "./config_update.ts";
export * from "./context.ts";
export * from "./demo.ts";
export * from "./errors.ts";
export * from "./images.ts";
export * from "./instance_images.ts";
export * from "./instance_state.ts";
export * from "./instances.ts";
export * from "./init_instance.ts";
export * from "./instance_schema.ts";
export * from "./instance_validation.ts";
export * from "./lifecycle_targets.ts";
export * from "./load.ts";
export * from "./pull.ts";
export * from "./native_plan.ts";
export * from "./native_app_plan.ts";
export { nativeAppCommand, nativeRuntime, POSTGRES_FALLBACK_ROOT } from "./native_runtime.ts";
export * from "./native_files.ts";
export * from "./client_build.ts";
export * from "./lock.ts";
export * from "./logs.ts";
export { dockerRuntime } from "./docker_runtime.ts";
export * from "./ops.ts";
export * from "./plan.ts";
export * from "./docker_plan.ts";
export * from "./docker_ops_plan.ts";
export * from "./image_pulls.ts";
export * from "./prerequisites.ts";
export * from "./pull_progress.ts";
export * from "./redis_config.ts";
export * from "./reporter.ts";
export * from "./runner.ts";
export * from "./runtime.ts";
export * from "./secrets.ts";
export * from "./status.ts";
export * from "./table.ts";
export * from "./users.ts";
export * from "./process.ts";
