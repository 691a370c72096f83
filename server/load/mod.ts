/**
 * The loader: facility master list (GRID3 CSV or synthetic), data models, and
 * {@linkcode loadInstance}.
 *
 * @module
 */

export * from "./grid3.ts";
export * from "./model.ts";
export * from "./demo_project.ts";
export * from "./instance.ts";
export { hashString, mulberry32 } from "./random.ts";
