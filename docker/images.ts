/**
 * `deno task docker:images`: builds the stand-in images of wb's docker runtime from Debian
 * packages, for machines that cannot reach a registry (Docker Hub is out of reach here):
 *
 * | image                    | stands in for          | from                                            |
 * | ------------------------ | ---------------------- | ----------------------------------------------- |
 * | `wb-local/postgres:15`   | `postgres:17.4`        | Debian's postgresql-15, the official entrypoint |
 * | `wb-local/redis:7`       | `redis:7-alpine`       | Debian's redis-server 7.0                       |
 * | `wb-local/deno:<deno>`   | `denoland/deno:<deno>` | the Deno binary of the npm package              |
 *
 * Each root file system is made by `mmdebstrap --variant=minbase` (cached as a tarball by
 * its suite and package list, so a new engine only needs `docker build`), then
 * `docker build` of `docker/standin/<name>/Dockerfile` adds what the official image adds
 * (entrypoint, users, environment, stop signal). An image is rebuilt only when its recipe
 * (packages, Dockerfile, entrypoint, Deno version) changed: the recipe's digest is the
 * image's label `dev.wb.recipe`. Running it twice builds nothing the second time.
 *
 * Names are honest (`wb-local/...`, the Debian major versions), never an upstream tag.
 * Point an instance at them with `WB_POSTGRES_IMAGE=wb-local/postgres:15` etc. (see
 * docs/docker.md).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Debian suite of every stand-in image. */
export const DEBIAN_SUITE = "bookworm";

/** Label holding an image's recipe digest. */
export const RECIPE_LABEL = "dev.wb.recipe";

/** The Deno version of the app image: the default of the Dockerfile's `DENO_IMAGE`. */
export async function pinnedDenoVersion(repoRoot: string): Promise<string> {
  const dockerfile = await Deno.readTextFile(join(repoRoot, "Dockerfile"));
  const match = dockerfile.match(/^ARG DENO_IMAGE=denoland\/deno:(\d+\.\d+\.\d+)\s*$/m);
  if (!match) throw new Error("Dockerfile: no `ARG DENO_IMAGE=denoland/deno:<version>` line");
  return match[1];
}

/** One stand-in image. */
export interface StandInImage {
  /** Short name: the directory `docker/standin/<name>/`. */
  name: "postgres" | "redis" | "deno";
  /** Image reference it is tagged with. */
  tag: string;
  /** What it stands in for (shown in the summary). */
  standsInFor: string;
  /** Debian packages on top of `minbase`. */
  packages: string[];
  /** `--build-arg`s of its `docker build`. */
  buildArgs?: Record<string, string>;
}

/**
 * The stand-in images for a Deno version.
 *
 * @param denoVersion Version of the Deno base image, e.g. `2.9.6`.
 * @returns Postgres, Redis and Deno images, in build order.
 * @example
 * ```ts
 * import { standInImages } from "./images.ts";
 * standInImages("2.9.6").map((i) => i.tag);
 * // ["wb-local/postgres:15", "wb-local/redis:7", "wb-local/deno:2.9.6"]
 * ```
 */
export function standInImages(denoVersion: string): StandInImage[] {
  return [
    {
      name: "postgres",
      tag: "wb-local/postgres:15",
      standsInFor: "postgres:17.4",
      packages: ["postgresql-15", "gosu", "passwd"],
    },
    {
      name: "redis",
      tag: "wb-local/redis:7",
      standsInFor: "redis:7-alpine",
      packages: ["redis-server", "redis-tools", "gosu", "passwd"],
    },
    {
      name: "deno",
      tag: `wb-local/deno:${denoVersion}`,
      standsInFor: `denoland/deno:${denoVersion}`,
      packages: ["ca-certificates", "tini"],
      buildArgs: { DENO_VERSION: denoVersion },
    },
  ];
}

/** Where things are and how to run them. */
export interface ImagesContext {
  /** Repository root (holds `docker/standin/`). */
  repoRoot: string;
  /** Where root file system tarballs are cached. */
  cacheDir: string;
  /** Environment of `docker` (`DOCKER_HOST`). @default {the inherited one} */
  env?: Record<string, string>;
  /** Receives progress lines. @default {console.log} */
  log?: (line: string) => void;
  /** Rebuild even when the image's recipe is unchanged. @default {false} */
  force?: boolean;
}

/** What happened to one image. */
export interface ImageResult {
  /** Image reference. */
  tag: string;
  /** `cached`: present with the same recipe; `built`: (re)built now. */
  status: "cached" | "built";
  /** Whether the root file system came from the tarball cache (when built). */
  rootfsCached?: boolean;
  /** Wall time, in milliseconds. */
  ms: number;
}

/** A failed command, with its command line and the tail of its output. */
export class ImageBuildError extends Error {
  /**
   * @param command The command line.
   * @param code Its exit code.
   * @param output The tail of its output.
   */
  constructor(readonly command: string, readonly code: number, readonly output: string) {
    super(`\`${command}\` exited with ${code}:\n${output}`);
    this.name = "ImageBuildError";
  }
}

const decoder = new TextDecoder();

/** Runs a command; throws {@linkcode ImageBuildError} with the last lines of its output. */
async function run(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<string> {
  const out = await new Deno.Command(command, {
    args,
    env: options.env,
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output().catch((error) => {
    throw new ImageBuildError(`${command} ${args.join(" ")}`, 127, String(error));
  });
  const stdout = decoder.decode(out.stdout);
  if (out.code !== 0) {
    const tail = `${stdout}\n${decoder.decode(out.stderr)}`.trim().split("\n").slice(-30);
    throw new ImageBuildError(`${command} ${args.join(" ")}`, out.code, tail.join("\n"));
  }
  return stdout;
}

async function sha256(text: string | Uint8Array): Promise<string> {
  const data = typeof text === "string" ? new TextEncoder().encode(text) : text;
  const digest = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Digest of what makes a root file system: suite, variant, packages. */
async function rootfsDigest(image: StandInImage): Promise<string> {
  return (await sha256(JSON.stringify({
    suite: DEBIAN_SUITE,
    variant: "minbase",
    packages: [...image.packages].sort(),
  }))).slice(0, 16);
}

/**
 * Digest of an image's whole recipe: its root file system, its build files and arguments.
 *
 * @param repoRoot Repository root.
 * @param image The image.
 * @returns Hex digest (16 characters).
 */
export async function recipeDigest(repoRoot: string, image: StandInImage): Promise<string> {
  const dir = join(repoRoot, "docker", "standin", image.name);
  const files: Record<string, string> = {};
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile) files[entry.name] = await Deno.readTextFile(join(dir, entry.name));
  }
  const sorted = Object.fromEntries(Object.entries(files).sort(([a], [b]) => a.localeCompare(b)));
  return (await sha256(JSON.stringify({
    rootfs: await rootfsDigest(image),
    files: sorted,
    buildArgs: image.buildArgs ?? {},
  }))).slice(0, 16);
}

/** The recipe label of an image in the engine, or `undefined` when it is absent. */
async function labelOf(tag: string, env?: Record<string, string>): Promise<string | undefined> {
  const out = await new Deno.Command("docker", {
    args: ["image", "inspect", "--format", `{{index .Config.Labels "${RECIPE_LABEL}"}}`, tag],
    env,
    stdout: "piped",
    stderr: "null",
  }).output();
  return out.code === 0 ? decoder.decode(out.stdout).trim() : undefined;
}

/**
 * The root file system tarball of an image: from the cache, else made by `mmdebstrap`
 * (written under a temporary name, then renamed, so a broken run leaves no tarball).
 * Older tarballs of the same image are removed.
 */
async function rootfsTarball(
  context: ImagesContext,
  image: StandInImage,
): Promise<{ path: string; cached: boolean }> {
  const digest = await rootfsDigest(image);
  const path = join(context.cacheDir, `rootfs-${image.name}-${digest}.tar`);
  if (!context.force && await Deno.stat(path).then((s) => s.isFile, () => false)) {
    return { path, cached: true };
  }
  const found = await new Deno.Command("sh", { args: ["-c", "command -v mmdebstrap"] }).output();
  if (!found.success) {
    throw new ImageBuildError(
      "mmdebstrap",
      127,
      "mmdebstrap is not installed: apt-get install -y mmdebstrap (it makes the root file systems)",
    );
  }
  await Deno.mkdir(context.cacheDir, { recursive: true });
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  const log = context.log ?? console.log;
  log(`  mmdebstrap --variant=minbase --include=${image.packages.join(",")} ${DEBIAN_SUITE}`);
  try {
    await run("mmdebstrap", [
      "--quiet",
      "--variant=minbase",
      `--include=${image.packages.join(",")}`,
      // Only the files a server needs: no documentation, manual pages or translations.
      "--dpkgopt=path-exclude=/usr/share/man/*",
      "--dpkgopt=path-exclude=/usr/share/doc/*",
      "--dpkgopt=path-include=/usr/share/doc/*/copyright",
      "--dpkgopt=path-exclude=/usr/share/locale/*",
      "--format=tar",
      DEBIAN_SUITE,
      tmp,
    ]);
    await Deno.rename(tmp, path);
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
  for await (const entry of Deno.readDir(context.cacheDir)) {
    const old = entry.name.startsWith(`rootfs-${image.name}-`) && entry.name.endsWith(".tar") &&
      entry.name !== basename(path);
    if (old) await Deno.remove(join(context.cacheDir, entry.name)).catch(() => {});
  }
  return { path, cached: false };
}

/**
 * The Deno binary as its npm package ships it: `@deno/linux-<arch>-glibc@<version>`, file
 * `deno`. Taken from npx's cache when `npx deno@<version>` installed it, else fetched with
 * `npm pack` into `dir`.
 *
 * @param version Deno version.
 * @param dir A scratch directory.
 * @returns Path of the binary.
 * @throws {ImageBuildError} When `npm pack` or `tar` fails.
 */
export async function denoBinaryFromNpm(version: string, dir: string): Promise<string> {
  const arch = Deno.build.arch === "aarch64" ? "arm64" : "x64";
  const pkg = `@deno/linux-${arch}-glibc`;
  const npx = join(Deno.env.get("HOME") ?? "/root", ".npm", "_npx");
  const installs = await Array.fromAsync(Deno.readDir(npx)).catch(() => []);
  for (const entry of installs) {
    const root = join(npx, entry.name, "node_modules", pkg);
    const manifest = await Deno.readTextFile(join(root, "package.json")).catch(() => "");
    if (manifest && JSON.parse(manifest).version === version) {
      if (await Deno.stat(join(root, "deno")).then((s) => s.isFile, () => false)) {
        return join(root, "deno");
      }
    }
  }
  const tgz =
    (await run("npm", ["pack", "--silent", `${pkg}@${version}`, "--pack-destination", dir]))
      .trim().split("\n").pop()!;
  await run("tar", ["-xzf", join(dir, tgz), "-C", dir, "package/deno"]);
  return join(dir, "package", "deno");
}

/** Hard-links `from` to `to`, or copies it across file systems. */
async function linkOrCopy(from: string, to: string): Promise<void> {
  await Deno.link(from, to).catch(() => Deno.copyFile(from, to));
}

/**
 * Builds one stand-in image unless the engine has it with the same recipe.
 *
 * @param context Paths, environment, `force`.
 * @param image The image.
 * @returns What happened.
 * @throws {ImageBuildError} When mmdebstrap, npm or docker fails.
 */
export async function buildStandInImage(
  context: ImagesContext,
  image: StandInImage,
): Promise<ImageResult> {
  const started = performance.now();
  const log = context.log ?? console.log;
  const digest = await recipeDigest(context.repoRoot, image);
  if (!context.force && await labelOf(image.tag, context.env) === digest) {
    return { tag: image.tag, status: "cached", ms: performance.now() - started };
  }
  log(`${image.tag}: building (stands in for ${image.standsInFor})`);
  const rootfs = await rootfsTarball(context, image);
  const build = await Deno.makeTempDir({ prefix: `wb-image-${image.name}-` });
  try {
    const source = join(context.repoRoot, "docker", "standin", image.name);
    for await (const entry of Deno.readDir(source)) {
      if (entry.isFile) await Deno.copyFile(join(source, entry.name), join(build, entry.name));
    }
    await linkOrCopy(rootfs.path, join(build, "rootfs.tar"));
    if (image.name === "deno") {
      const binary = await denoBinaryFromNpm(image.buildArgs!.DENO_VERSION, build);
      if (binary !== join(build, "deno")) await linkOrCopy(binary, join(build, "deno"));
    }
    await run("docker", [
      "build",
      // No step needs the network; the engine of the tests has no default bridge.
      "--network",
      "none",
      "--label",
      `${RECIPE_LABEL}=${digest}`,
      ...Object.entries(image.buildArgs ?? {}).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]),
      "-t",
      image.tag,
      build,
    ], { env: context.env });
  } finally {
    await Deno.remove(build, { recursive: true }).catch(() => {});
  }
  // The previous build of this tag, if any, is now dangling.
  await run("docker", ["image", "prune", "-f", "--filter", `label=${RECIPE_LABEL}`], {
    env: context.env,
  }).catch(() => {});
  return {
    tag: image.tag,
    status: "built",
    rootfsCached: rootfs.cached,
    ms: performance.now() - started,
  };
}

/**
 * Builds every stand-in image (see {@linkcode standInImages}), one after the other.
 *
 * @param context Paths, environment, `force`.
 * @param only Names to build. @default {all}
 * @returns One result per image.
 * @throws {ImageBuildError} At the first failure.
 * @example
 * ```ts
 * import { buildStandInImages, defaultCacheDir } from "./images.ts";
 * await buildStandInImages({ repoRoot: ".", cacheDir: defaultCacheDir() });
 * ```
 */
export async function buildStandInImages(
  context: ImagesContext,
  only?: readonly string[],
): Promise<ImageResult[]> {
  const images = standInImages(await pinnedDenoVersion(context.repoRoot))
    .filter((i) => !only?.length || only.includes(i.name));
  const results: ImageResult[] = [];
  for (const image of images) {
    const result = await buildStandInImage(context, image);
    (context.log ?? console.log)(
      `${image.tag}: ${result.status}${
        result.status === "built"
          ? ` in ${(result.ms / 1000).toFixed(1)} s (root file system ${
            result.rootfsCached ? "from the cache" : "made by mmdebstrap"
          })`
          : ""
      }`,
    );
    results.push(result);
  }
  return results;
}

/**
 * Where root file system tarballs are cached: `WB_IMAGES_CACHE`, else
 * `$XDG_CACHE_HOME/wb/images`, else `~/.cache/wb/images`.
 *
 * @param env The environment. @default {Deno.env.toObject()}
 * @returns A directory path.
 */
export function defaultCacheDir(env: Record<string, string> = Deno.env.toObject()): string {
  if (env.WB_IMAGES_CACHE) return env.WB_IMAGES_CACHE;
  const base = env.XDG_CACHE_HOME ?? join(env.HOME ?? "/root", ".cache");
  return join(base, "wb", "images");
}

/** The repository root, from this module's location. */
export function repoRootOf(): string {
  return dirname(dirname(fileURLToPath(import.meta.url)));
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { force: { type: "boolean", default: false }, help: { type: "boolean" } },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(
      "deno task docker:images [--force] [postgres|redis|deno...]\n" +
        "Builds the stand-in images (wb-local/postgres:15, wb-local/redis:7, wb-local/deno:<v>)\n" +
        "in the engine of DOCKER_HOST; an image whose recipe is unchanged is kept.\n" +
        "Root file systems are cached in WB_IMAGES_CACHE (default ~/.cache/wb/images).",
    );
    Deno.exit(0);
  }
  try {
    const started = performance.now();
    const results = await buildStandInImages(
      { repoRoot: repoRootOf(), cacheDir: defaultCacheDir(), force: values.force },
      positionals,
    );
    const built = results.filter((r) => r.status === "built").length;
    console.log(
      `${results.length} image(s), ${built} built, ${results.length - built} cached, in ${
        ((performance.now() - started) / 1000).toFixed(1)
      } s`,
    );
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}
