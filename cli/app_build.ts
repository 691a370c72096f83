/**
 * `wb build [targets]`: builds the app image of docker instances from this checkout's
 * `Dockerfile`, on each instance's configured base image (`DENO_IMAGE`, see
 * `cli/images.ts`), without network access inside the build.
 *
 * Why no network: the Dockerfile fetches the locked npm packages (`deno cache --frozen`),
 * and a build container may reach no registry at all (no route, no NAT, a proxy only the
 * host trusts). So the packages come from this machine's Deno cache instead:
 *
 * 1. `deno cache --frozen` of the app's entry points on the host (the lock decides the
 *    versions; a no-op when the host has them);
 * 2. a dependency image `wb-build/deno-deps:<digest>`: the base image plus those packages in
 *    its `DENO_DIR` (`/deno-dir/npm`), tagged by a digest of the base and `deno.lock`, so it
 *    is made once per lock;
 * 3. `docker build --network none --build-arg DENO_IMAGE=<that image> -t <app image> .`:
 *    the Dockerfile's `deno cache --frozen` finds every package and fetches nothing.
 *
 * The steps are data ({@linkcode appBuildSteps}); {@linkcode buildAppImages} runs them.
 *
 * @module
 */

import { join } from "node:path";
import { loadConfig, resolveTargets } from "./config.ts";
import { type Instance } from "./instance_schema.ts";
import { denoPathOf, type WbContext } from "./context.ts";
import { CliError } from "./errors.ts";
import { resolveImages } from "./images.ts";
import { imageLayersOf } from "./instance_images.ts";
import type { Step } from "./plan.ts";
import { execStep, runStep } from "./runner.ts";

/** Entry points of the app image (what its Dockerfile caches). */
export const APP_ENTRY_POINTS: readonly string[] = Object.freeze([
  "server/main.ts",
  "server/load.ts",
  "server/user_add.ts",
  "client/build.ts",
]);

/** Repository of the dependency images of {@linkcode appBuildSteps}. */
export const DEPS_REPOSITORY = "wb-build/deno-deps";

/** The Dockerfile of a dependency image (its context holds `npm/`, the packages). */
export const DEPS_DOCKERFILE = [
  "# The base image of an app image plus the npm packages of deno.lock (made by `wb build`).",
  "ARG DENO_IMAGE",
  "FROM ${DENO_IMAGE}",
  "COPY --chown=deno:deno npm/ /deno-dir/npm/",
  "",
].join("\n");

/** One app image to build. */
export interface AppBuild {
  /** The app image, e.g. `wb-server:1.4`. */
  image: string;
  /** Its base image (`DENO_IMAGE`). */
  base: string;
  /** The dependency image it is built on. */
  deps: string;
  /** Ids of the targeted instances that run it. */
  ids: string[];
}

/**
 * The dependency image of a base image and a lock: `wb-build/deno-deps:<digest>`.
 *
 * @param base The base image.
 * @param lockText The text of `deno.lock`.
 * @returns The image reference.
 * @example
 * ```ts
 * import { depsImage } from "./app_build.ts";
 * await depsImage("denoland/deno:2.9.6", "{}"); // "wb-build/deno-deps:<16 hex digits>"
 * ```
 */
export async function depsImage(base: string, lockText: string): Promise<string> {
  const data = new TextEncoder().encode(`${base}\n${DEPS_DOCKERFILE}\n${lockText}`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${DEPS_REPOSITORY}:${hex.slice(0, 16)}`;
}

/** The platform an image runs on, in npm's terms (`os` and `cpu` of a package.json). */
export interface NpmPlatform {
  /** e.g. `linux`. */
  os: string;
  /** e.g. `x64`, `arm64`. */
  cpu: string;
}

/** The platform of this machine's containers: Linux on the host's CPU (npm's names). */
export function containerPlatform(): NpmPlatform {
  const cpu = ({ x86_64: "x64", aarch64: "arm64" } as Record<string, string>)[Deno.build.arch];
  return { os: "linux", cpu: cpu ?? Deno.build.arch };
}

/**
 * The npm package names a lock file pins (`name@version` keys of its `npm` section) that
 * can run on `platform`: a package whose lock entry lists `os` or `cpu` without the
 * platform's (esbuild's 25 per-platform binaries, of which one is ever installed) is left
 * out, as npm and Deno leave it out of an install.
 *
 * @param lockText The text of `deno.lock`.
 * @param platform The platform the packages are for. @default {containerPlatform()}
 * @returns Package names, sorted, each once.
 * @throws {CliError} Code `config` when the lock is not JSON.
 * @example
 * ```ts
 * import { lockedPackages } from "./app_build.ts";
 * lockedPackages('{"npm":{"@types/node@22.0.0":{},"hono@4.0.0":{}}}'); // ["@types/node", "hono"]
 * ```
 */
export function lockedPackages(
  lockText: string,
  platform: NpmPlatform = containerPlatform(),
): string[] {
  let lock: { npm?: Record<string, { os?: string[]; cpu?: string[] }> };
  try {
    lock = JSON.parse(lockText);
  } catch (error) {
    throw new CliError("config", `deno.lock is not JSON: ${(error as Error).message}`);
  }
  const runsOn = (list: string[] | undefined, value: string) =>
    !list || list.length === 0 || list.includes(value) ||
    (list.every((item) => item.startsWith("!")) && !list.includes(`!${value}`));
  const names = Object.entries(lock.npm ?? {})
    .filter(([, entry]) => runsOn(entry?.os, platform.os) && runsOn(entry?.cpu, platform.cpu))
    .map(([key]) => key.slice(0, key.indexOf("@", 1)));
  return [...new Set(names)].sort();
}

/** What {@linkcode appBuildSteps} needs to know. */
export interface AppBuildPaths {
  /** Repository root (holds `Dockerfile`, `deno.lock`). */
  repoRoot: string;
  /** The host's `deno`. */
  deno: string;
  /** The build context of the dependency image (`Dockerfile`, `npm/`). */
  depsContext: string;
}

/**
 * The steps that build one app image (see the module doc): cache the packages on the
 * host, build the dependency image (when `depsPresent` is false), build the app image.
 * Copying the packages into `depsContext` happens between the first two (not a step).
 *
 * @param build The image, its base and dependency image.
 * @param paths Where things are.
 * @param depsPresent Whether the engine already has the dependency image.
 * @returns `cache`, `deps` (absent when present) and `app` steps.
 * @example
 * ```ts
 * import { appBuildSteps } from "./app_build.ts";
 * const build = { image: "wb-server:1", base: "denoland/deno:2.9.6", deps: "wb-build/deno-deps:x", ids: ["a"] };
 * appBuildSteps(build, { repoRoot: "/repo", deno: "deno", depsContext: "/tmp/d" }, true).app.args;
 * // ["build", "--network", "none", "--build-arg", "DENO_IMAGE=wb-build/deno-deps:x", "-t", "wb-server:1", "/repo"]
 * ```
 */
export function appBuildSteps(
  build: AppBuild,
  paths: AppBuildPaths,
  depsPresent: boolean,
): { cache: Step; deps?: Step; app: Step } {
  return {
    cache: {
      title: "Cache the app's npm packages on this machine (deno cache --frozen)",
      command: paths.deno,
      args: ["cache", "--frozen", ...APP_ENTRY_POINTS],
      cwd: paths.repoRoot,
      env: { DENO_NO_UPDATE_CHECK: "1" },
    },
    ...(depsPresent ? {} : {
      deps: {
        title: `Build ${build.deps} (${build.base} with the locked npm packages)`,
        command: "docker",
        args: [
          "build",
          "--network",
          "none",
          "--build-arg",
          `DENO_IMAGE=${build.base}`,
          "-t",
          build.deps,
          paths.depsContext,
        ],
      },
    }),
    app: {
      title: `Build ${build.image} from ${paths.repoRoot}/Dockerfile`,
      command: "docker",
      args: [
        "build",
        "--network",
        "none",
        "--build-arg",
        `DENO_IMAGE=${build.deps}`,
        "-t",
        build.image,
        paths.repoRoot,
      ],
    },
  };
}

/** Where the host's Deno keeps npm packages (`deno info --json`: `npmCache`). */
async function npmCacheDir(context: WbContext): Promise<string> {
  const out = await execStep({
    title: "deno info",
    command: denoPathOf(context),
    args: ["info", "--json"],
    env: { DENO_NO_UPDATE_CHECK: "1" },
  }, { env: context.env });
  const dir = out.code === 0 ? JSON.parse(out.stdout).npmCache : undefined;
  if (typeof dir !== "string") {
    throw new CliError("command_failed", `deno info --json did not say where npm packages are`);
  }
  return dir;
}

/**
 * Copies the locked packages' directories of the host's npm cache into `<dir>/npm/`
 * (hard links where possible), with the dependency image's Dockerfile.
 */
async function prepareDepsContext(
  context: WbContext,
  dir: string,
  packages: readonly string[],
): Promise<void> {
  const registry = join(await npmCacheDir(context), "registry.npmjs.org");
  const target = join(dir, "npm", "registry.npmjs.org");
  for (const name of packages) {
    const to = join(target, name);
    await Deno.mkdir(join(to, ".."), { recursive: true });
    const copy = async (flags: string) =>
      (await execStep({
        title: `copy ${name}`,
        command: "cp",
        args: [flags, join(registry, name), to],
      })).code === 0;
    if (!await copy("-al") && !await copy("-a")) {
      throw new CliError(
        "command_failed",
        `The npm package ${name} is not in this machine's Deno cache (${registry}) after deno cache --frozen`,
      );
    }
  }
  await Deno.writeTextFile(join(dir, "Dockerfile"), DEPS_DOCKERFILE);
}

/** What `wb build` did for one image. */
export interface AppBuildResult extends AppBuild {
  /** Whether the dependency image was made now (else it was there). */
  depsBuilt: boolean;
  /** Wall time, in milliseconds. */
  ms: number;
}

/**
 * `wb build [targets]`: builds the app image of every targeted docker instance (each
 * distinct image once) from this checkout, without network access inside the build.
 *
 * @param context The context (`repoRoot`: the checkout; `denoPath`: the host's Deno).
 * @param targets Ids, `@all`, `@<tag>` or `server=<version>`. @default {["@all"]}
 * @returns One result per image built.
 * @throws {UnknownTargetError} On an unknown target.
 * @throws {CommandFailedError} When a step fails (its command line and stderr).
 * @example
 * ```ts
 * import { buildAppImages } from "./app_build.ts";
 * import { consoleReporter } from "./reporter.ts";
 * await buildAppImages({ home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() }, ["demo"]);
 * ```
 */
export async function buildAppImages(
  context: WbContext,
  targets: readonly string[] = ["@all"],
): Promise<AppBuildResult[]> {
  const config = await loadConfig(context.home);
  const instances = resolveTargets(config, targets.length ? targets : ["@all"])
    .filter((i: Instance) => i.runtime === "docker");
  const layers = await imageLayersOf(context);
  const lockText = await Deno.readTextFile(join(context.repoRoot, "deno.lock"));
  const builds = new Map<string, AppBuild>();
  for (const instance of instances) {
    const images = resolveImages(instance, layers);
    const build = builds.get(images.app) ?? {
      image: images.app,
      base: images.deno,
      deps: await depsImage(images.deno, lockText),
      ids: [],
    };
    if (build.base !== images.deno) {
      throw new CliError(
        "config",
        `${images.app} would be built on two base images (${build.base}, ${images.deno}); give the instances different server versions or app images`,
      );
    }
    build.ids.push(instance.id);
    builds.set(images.app, build);
  }
  const options = { env: context.env, reporter: context.reporter };
  const results: AppBuildResult[] = [];
  for (const build of builds.values()) {
    const started = performance.now();
    const present = (await execStep({
      title: `Look for ${build.deps}`,
      command: "docker",
      args: ["image", "inspect", "--format", "{{.Id}}", build.deps],
    }, options)).code === 0;
    const dir = await Deno.makeTempDir({ prefix: "wb-build-deps-" });
    try {
      const steps = appBuildSteps(
        build,
        { repoRoot: context.repoRoot, deno: denoPathOf(context), depsContext: dir },
        present,
      );
      await runStep(steps.cache, options);
      if (steps.deps) {
        await prepareDepsContext(context, dir, lockedPackages(lockText));
        await runStep(steps.deps, options);
      }
      await runStep(steps.app, options);
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
    const ms = performance.now() - started;
    context.reporter.info(
      `Built ${build.image} on ${build.base} in ${(ms / 1000).toFixed(1)} s (for ${
        build.ids.join(", ")
      })`,
    );
    results.push({ ...build, depsBuilt: !present, ms });
  }
  return results;
}
