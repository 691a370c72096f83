/**
 * The server's entity graph: what is derived from what, so that one change reaches every
 * cached view derived from it.
 *
 * ```
 * structure ──▶ indicator ─────────────────────────────┐
 *     │                                                 ▼
 *     ├──▶ dataset ──▶ module ──▶ results_object ──▶ metric ──▶ presentation_object
 *     │       │                         │                               │
 *     │       │                         └──────────────────────┐        ▼
 *     │       │                                                └─▶ presentation_object_item
 *     └───────┴──▶ windowed_aggregate (no version: cleared by callback)
 * ```
 *
 * Versioned entities (the cached routes read their version first, `server/versions.ts`)
 * need no clearing; the graph still reaches them so browsers hear about them.
 *
 * @module
 */
import { defineEntityGraph } from "./graph.ts";

/** The server's entity graph. */
export const SERVER_ENTITIES = defineEntityGraph({
  structure: {
    dependsOn: [],
    description: "admin areas and facilities (structure_meta.version); in-memory cache 'structure'",
  },
  indicator: {
    dependsOn: ["structure"],
    description: "indicators, imported with the structure",
  },
  dataset: {
    dependsOn: ["structure"],
    description: "HMIS and HFA datasets (dataset_versions); caches ds_hmis, ds_hfa",
  },
  module: {
    dependsOn: ["dataset"],
    description: "a project's module (modules.last_run)",
  },
  results_object: {
    dependsOn: ["module"],
    description: "a module's output",
  },
  metric: {
    dependsOn: ["results_object", "indicator"],
    description: "a metric over a results object; caches metric_info, replicant_opts",
  },
  presentation_object: {
    dependsOn: ["metric"],
    description: "a configured view of a metric (presentation_objects.last_updated); po_detail",
  },
  presentation_object_item: {
    dependsOn: ["presentation_object", "results_object"],
    description: "the items of a presentation object; cache po_items",
  },
  windowed_aggregate: {
    dependsOn: ["dataset", "structure"],
    versioned: false,
    description: "windowed aggregates over datasets by admin area (in-memory memo, no version)",
  },
});

/** An entity type of the server's graph. */
export type ServerEntity = (typeof SERVER_ENTITIES.names)[number];
