/**
 * The model layer: every function takes a {@linkcode Db} first and returns plain data.
 * Versions are ISO-8601 UTC strings with microseconds (module `last_run`, presentation object
 * `last_updated`) or dataset import counters as strings.
 *
 * @module
 */

export * from "./errors.ts";
export * from "./period.ts";
export * from "./fetch_config.ts";
export * from "./projects.ts";
export * from "./presentation_objects.ts";
export * from "./items.ts";
export * from "./modules.ts";
export * from "./metrics.ts";
export * from "./datasets.ts";
export * from "./structure.ts";
export * from "./overview.ts";
export * from "./text.ts";
export * from "./labels.ts";
