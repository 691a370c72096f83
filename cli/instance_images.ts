/**
 * The images an instance runs under the whole configuration: its own settings, then
 * `servers.json`'s top-level `images`, then the environment's defaults (carried by the
 * context), then the upstream images.
 *
 * @module
 */

import { loadConfig } from "./config.ts";
import { type Instance } from "./instance_schema.ts";
import type { WbContext } from "./context.ts";
import { type ImageLayers, resolveImages, type ServiceImages } from "./images.ts";

/**
 * The layers below an instance's own image settings.
 *
 * @param context `home` (for `servers.json`) and `imageDefaults` (the environment's).
 * @returns The layers.
 * @throws {CliError} Code `config` when `servers.json` is invalid.
 * @example
 * ```ts
 * import { imageLayersOf } from "./instance_images.ts";
 * import { memoryReporter } from "./reporter.ts";
 * await imageLayersOf({ home: await Deno.makeTempDir(), repoRoot: ".", reporter: memoryReporter() }); // {}
 * ```
 */
export async function imageLayersOf(
  context: Pick<WbContext, "home" | "imageDefaults">,
): Promise<ImageLayers> {
  const { images } = await loadConfig(context.home);
  return {
    ...(images ? { config: images } : {}),
    ...(context.imageDefaults ? { env: context.imageDefaults } : {}),
  };
}

/**
 * The images an instance runs.
 *
 * @param context `home` and `imageDefaults`.
 * @param instance The instance.
 * @returns Its images and where each came from.
 * @throws {CliError} Code `config` when `servers.json` is invalid.
 * @example
 * ```ts
 * import { imagesOf } from "./instance_images.ts";
 * import { memoryReporter } from "./reporter.ts";
 * const context = { home: await Deno.makeTempDir(), repoRoot: ".", reporter: memoryReporter() };
 * (await imagesOf(context, { images: { redis: "wb-local/redis:7" } } as never)).redis; // "wb-local/redis:7"
 * ```
 */
export async function imagesOf(
  context: Pick<WbContext, "home" | "imageDefaults">,
  instance: Pick<Instance, "images" | "serverVersion" | "adminVersion">,
): Promise<ServiceImages> {
  return resolveImages(instance, await imageLayersOf(context));
}
