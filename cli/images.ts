/**
 * The images of a docker instance, as configuration: each service's image (Postgres,
 * Redis, the app's repository) and the base image `wb build` builds the app on, set per
 * instance, globally in `servers.json`, or by the environment, defaulting to the real
 * upstream images.
 *
 * Precedence, most specific first: the instance's `images` in `servers.json`
 * (`wb c update <id> --postgres-image ...`), the top-level `images` of `servers.json`
 * (`wb c images --postgres-image ...`), the environment (`WB_POSTGRES_IMAGE`,
 * `WB_REDIS_IMAGE`, `WB_APP_IMAGE`, `WB_DENO_IMAGE`; a machine-wide default, e.g. the
 * stand-ins of `deno task docker:images` on a machine without a registry), then
 * {@linkcode DEFAULT_IMAGES}.
 *
 * @module
 */

import type { Instance } from "./instance_schema.ts";
import { CliError, UsageError } from "./errors.ts";

/** Images that can be configured. Every field is optional; unset means the next layer's. */
export interface ImageSettings {
  /** Postgres image reference, e.g. `postgres:17.4`. */
  postgres?: string;
  /** Redis image reference, e.g. `redis:7-alpine`. */
  redis?: string;
  /** Repository of the app image, without a tag: the tag is the instance's `serverVersion`. */
  app?: string;
  /** Base image of the app image (the Dockerfile's `DENO_IMAGE`), used by `wb build`. */
  deno?: string;
}

/** One configurable image. */
export type ImageRole = keyof ImageSettings;

/** Every {@linkcode ImageRole}, in the order they are shown. */
export const IMAGE_ROLES: readonly ImageRole[] = Object.freeze([
  "postgres",
  "redis",
  "app",
  "deno",
]);

/** The upstream images, used when nothing else is configured. */
export const DEFAULT_IMAGES: Readonly<Required<ImageSettings>> = Object.freeze({
  postgres: "postgres:17.4",
  redis: "redis:7-alpine",
  app: "wb-server",
  deno: "denoland/deno:2.9.6",
});

/** Environment variable of each role's machine-wide default. */
export const IMAGE_ENV: Readonly<Record<ImageRole, string>> = Object.freeze({
  postgres: "WB_POSTGRES_IMAGE",
  redis: "WB_REDIS_IMAGE",
  app: "WB_APP_IMAGE",
  deno: "WB_DENO_IMAGE",
});

/** Where an image setting came from. */
export type ImageSource = "instance" | "servers.json" | "environment" | "default";

// Docker's reference grammar (distribution/reference): an optional registry host (with a
// port), path components of lowercase letters and digits joined by separators, then an
// optional tag and digest.
const HOST = String
  .raw`(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?`;

const COMPONENT = String.raw`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`;

const REPOSITORY = `${HOST}${COMPONENT}(?:/${COMPONENT})*`;

const TAG = String.raw`(?::[\w][\w.-]{0,127})?`;

const DIGEST = String.raw`(?:@sha256:[a-f0-9]{64})?`;

const REFERENCE_PATTERN = new RegExp(`^${REPOSITORY}${TAG}${DIGEST}$`);

const REPOSITORY_PATTERN = new RegExp(`^${REPOSITORY}$`);

/**
 * Checks an image setting: a full reference for Postgres, Redis and the Deno base
 * (`name[:tag][@digest]`, optionally with a registry), a repository without tag for the app.
 *
 * @param value Candidate reference.
 * @param role Which image.
 * @returns The value.
 * @throws {UsageError} If it is not a docker reference (or, for the app, has a tag).
 * @example
 * ```ts
 * import { validateImage } from "./images.ts";
 * validateImage("wb-local/postgres:15", "postgres"); // "wb-local/postgres:15"
 * ```
 */
export function validateImage(value: string, role: ImageRole): string {
  if (role === "app") {
    if (!REPOSITORY_PATTERN.test(value)) {
      throw new UsageError(
        `Invalid app image '${value}': use a repository without a tag, e.g. registry.example.org/wb-server (the tag is the server version)`,
      );
    }
  } else if (!REFERENCE_PATTERN.test(value) || value.length > 255) {
    throw new UsageError(
      `Invalid ${role} image '${value}': use a docker image reference such as ${
        DEFAULT_IMAGES[role]
      }`,
    );
  }
  return value;
}

/**
 * Checks the `images` object of `servers.json` (top level or an instance's).
 *
 * @param raw Parsed JSON.
 * @param where Where it is, for the message (e.g. `servers.json: instance 'web'`).
 * @returns The settings, without empty fields; `undefined` when there are none.
 * @throws {CliError} Code `config` on a non-object, an unknown role or an invalid reference.
 * @example
 * ```ts
 * import { validateImageSettings } from "./images.ts";
 * validateImageSettings({ redis: "wb-local/redis:7" }, "servers.json"); // { redis: "wb-local/redis:7" }
 * ```
 */
export function validateImageSettings(raw: unknown, where: string): ImageSettings | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new CliError("config", `${where}, field 'images': must be an object`);
  }
  const settings: ImageSettings = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!IMAGE_ROLES.includes(key as ImageRole)) {
      throw new CliError(
        "config",
        `${where}, field 'images': unknown image '${key}' (known: ${IMAGE_ROLES.join(", ")})`,
      );
    }
    if (value === undefined || value === null || value === "") continue;
    if (typeof value !== "string") {
      throw new CliError("config", `${where}, field 'images.${key}': must be a string`);
    }
    try {
      settings[key as ImageRole] = validateImage(value, key as ImageRole);
    } catch (error) {
      throw new CliError("config", `${where}, field 'images.${key}': ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  return Object.keys(settings).length > 0 ? settings : undefined;
}

/**
 * The machine-wide image defaults of the environment (`WB_POSTGRES_IMAGE`, ...).
 *
 * @param env The environment.
 * @returns The settings the environment makes.
 * @throws {UsageError} Naming the variable, when one holds an invalid reference.
 * @example
 * ```ts
 * import { imageSettingsFromEnv } from "./images.ts";
 * imageSettingsFromEnv({ WB_REDIS_IMAGE: "wb-local/redis:7" }); // { redis: "wb-local/redis:7" }
 * ```
 */
export function imageSettingsFromEnv(env: Record<string, string | undefined>): ImageSettings {
  const settings: ImageSettings = {};
  for (const role of IMAGE_ROLES) {
    const value = env[IMAGE_ENV[role]]?.trim();
    if (!value) continue;
    try {
      settings[role] = validateImage(value, role);
    } catch (error) {
      throw new UsageError(`${IMAGE_ENV[role]}: ${(error as Error).message}`, { cause: error });
    }
  }
  return settings;
}

/** The layers below an instance's own settings. */
export interface ImageLayers {
  /** The top-level `images` of `servers.json`. */
  config?: ImageSettings;
  /** The environment's defaults ({@linkcode imageSettingsFromEnv}). */
  env?: ImageSettings;
}

/** The images a docker instance's services run, with where each setting came from. */
export interface ServiceImages {
  /** Postgres image. */
  postgres: string;
  /** Redis image. */
  redis: string;
  /** App image: the app repository and the server version (`wb-server:latest`). */
  app: string;
  /** Admin image (`wb-admin:<adminVersion>`), when the instance has an admin service. */
  admin?: string;
  /** Base image of `wb build`. */
  deno: string;
  /** Where each configurable setting came from. */
  sources: Record<ImageRole, ImageSource>;
}

/**
 * The images of an instance: each role from the first layer that sets it.
 *
 * @param instance The instance (`images`, `serverVersion`, `adminVersion`).
 * @param layers `servers.json`'s and the environment's settings. @default {none}
 * @returns The images and their sources.
 * @example
 * ```ts
 * import { resolveImages } from "./images.ts";
 * const images = resolveImages({ serverVersion: "1.4" }, { env: { postgres: "wb-local/postgres:15" } });
 * images.postgres; // "wb-local/postgres:15"
 * images.app; // "wb-server:1.4"
 * images.sources.postgres; // "environment"
 * ```
 */
export function resolveImages(
  instance: Pick<Instance, "images" | "serverVersion" | "adminVersion">,
  layers: ImageLayers = {},
): ServiceImages {
  const sources = {} as Record<ImageRole, ImageSource>;
  const pick = (role: ImageRole): string => {
    const candidates: [string | undefined, ImageSource][] = [
      [instance.images?.[role], "instance"],
      [layers.config?.[role], "servers.json"],
      [layers.env?.[role], "environment"],
    ];
    const [value, source] = candidates.find(([v]) => v) ?? [DEFAULT_IMAGES[role], "default"];
    sources[role] = source;
    return value!;
  };
  const postgres = pick("postgres");
  const redis = pick("redis");
  const app = `${pick("app")}:${instance.serverVersion ?? "latest"}`;
  const deno = pick("deno");
  return {
    postgres,
    redis,
    app,
    ...(instance.adminVersion ? { admin: `wb-admin:${instance.adminVersion}` } : {}),
    deno,
    sources,
  };
}

/**
 * The app image of an instance: its app repository (`wb-server` unless configured) tagged
 * with its server version (`latest` unless set).
 *
 * @param instance The instance.
 * @param images Its resolved images. @default {the instance's own settings and the defaults}
 * @returns Image reference.
 * @example
 * ```ts
 * import { appImage } from "./images.ts";
 * appImage({}); // "wb-server:latest"
 * ```
 */
export function appImage(
  instance: Pick<Instance, "images" | "serverVersion" | "adminVersion">,
  images: ServiceImages = resolveImages(instance),
): string {
  return images.app;
}

/**
 * The admin image of an instance, when it has one: `wb-admin:<adminVersion>`.
 *
 * @param instance The instance.
 * @returns Image reference, or `undefined` without `adminVersion`.
 * @example
 * ```ts
 * import { adminImage } from "./images.ts";
 * adminImage({ adminVersion: "1.2" }); // "wb-admin:1.2"
 * ```
 */
export function adminImage(instance: Pick<Instance, "adminVersion">): string | undefined {
  return resolveImages(instance).admin;
}
