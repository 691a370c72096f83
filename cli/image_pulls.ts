/**
 * The images a set of docker instances needs, and the steps that check for and pull them
 * (`wb pull`, the pull before `wb start`). Our own images (app, admin) are often built locally
 * and absent from every registry, so they are marked. Pure: no `Deno.*` calls.
 *
 * @module
 */

import type { ServiceImages } from "./images.ts";
import type { Service, Step } from "./plan.ts";

/** One image a set of docker instances needs, and who needs it. */
export interface ImageUse {
  /** Image reference. */
  image: string;
  /** `<id> <service>` of every service that runs it, e.g. `web postgres`. */
  usedBy: string[];
  /** Our own image (app, admin): often built locally and absent from every registry. */
  own: boolean;
}

/**
 * Every image the given docker instances run, each once, in first-use order (services in
 * start order).
 *
 * @param instances Each docker instance's id and resolved images.
 * @returns The images with the services using them.
 * @example
 * ```ts
 * import { imagesToPull } from "./image_pulls.ts";
 * import { resolveImages } from "./images.ts";
 * imagesToPull([{ id: "a", images: resolveImages({}) }]).map((u) => u.image);
 * // ["postgres:17.4", "redis:7-alpine", "wb-server:latest"]
 * ```
 */
export function imagesToPull(
  instances: readonly { id: string; images: ServiceImages }[],
): ImageUse[] {
  const uses = new Map<string, ImageUse>();
  for (const { id, images } of instances) {
    const services: [Service, string | undefined][] = [
      ["postgres", images.postgres],
      ["redis", images.redis],
      ["admin", images.admin],
      ["app", images.app],
    ];
    for (const [service, image] of services) {
      if (!image) continue;
      const use = uses.get(image) ??
        { image, usedBy: [], own: service === "app" || service === "admin" };
      use.usedBy.push(`${id} ${service}`);
      uses.set(image, use);
    }
  }
  return [...uses.values()];
}

/**
 * The `docker pull` step of one image. Whether a failure matters is `wb pull`'s call: an
 * image the engine already has (our own, built by `wb build`; a local stand-in) still runs.
 *
 * @param use The image and who uses it.
 * @returns The step.
 * @example
 * ```ts
 * import { pullStep } from "./image_pulls.ts";
 * pullStep({ image: "redis:7-alpine", usedBy: ["a redis"], own: false }).args; // ["pull", "redis:7-alpine"]
 * ```
 */
export function pullStep(use: ImageUse): Step {
  return {
    title: `Pull ${use.image}`,
    command: "docker",
    args: ["pull", use.image],
  };
}

/**
 * The step that tells whether an image is present in the engine (`docker image inspect`).
 *
 * @param image Image reference.
 * @returns The step; exit code 0 when present, its stdout the image id.
 */
export function imagePresentStep(image: string): Step {
  return {
    title: `Look for ${image} in the engine`,
    command: "docker",
    args: ["image", "inspect", "--format", "{{.Id}}", image],
  };
}
