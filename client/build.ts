/**
 * Builds the web client into `client/dist/` with esbuild (npm `esbuild`, its binary from
 * `@esbuild/<platform>`): `src/app.tsx` (Preact, uPlot, idb-keyval) and `src/app.css` become
 * `app-<HASH>.js` and `app-<HASH>.css` (minified, with source maps), and `index.html` is
 * written with their names. The server reads the folder at start-up.
 *
 * ```sh
 * deno task build        # = deno run -A client/build.ts
 * ```
 *
 * esbuild resolves bare imports through `node_modules` folders, which a Deno project does
 * not have: the packages the client imports ({@linkcode CLIENT_PACKAGES}) are resolved by
 * Deno itself (`import.meta.resolve`, through `client/deno.json` and `deno.lock`) and linked into
 * a temporary folder that esbuild searches (`nodePaths`). A client import of any other
 * package fails the build with esbuild's "Could not resolve"; add it to `client/deno.json` and
 * to the list.
 *
 * @module
 */
import * as esbuild from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

/** The npm packages the client imports (each must be in `client/deno.json`). */
export const CLIENT_PACKAGES = ["preact", "uplot", "idb-keyval", "export-to-csv"] as const;

const CLIENT_DIR = new URL("./", import.meta.url);

/** One output file. */
export interface BuiltFile {
  name: string;
  bytes: number;
  gzipBytes: number;
}

/** What {@linkcode buildClient} did. */
export interface BuildReport {
  /** The output folder. */
  outDir: string;
  /** `app-<HASH>.js`, `app-<HASH>.css` and `index.html` (source maps not listed). */
  files: BuiltFile[];
  /** Wall time of the build, in ms. */
  ms: number;
}

/** Options of {@linkcode buildClient}. */
export interface BuildOptions {
  /** Where to write. Emptied first. @default {client/dist/} */
  outDir?: URL;
  /** Minify. @default {true} */
  minify?: boolean;
}

/**
 * Builds the client.
 *
 * @returns The files written, their sizes (raw and gzip) and the time taken.
 * @throws {Error} esbuild's error (with every message) when the sources do not build.
 * @example
 * ```ts
 * const report = await buildClient({ outDir: new URL("file:///tmp/wb-client/") });
 * console.log(report.files.map((f) => `${f.name} ${f.gzipBytes}`));
 * ```
 */
export async function buildClient(options: BuildOptions = {}): Promise<BuildReport> {
  const started = performance.now();
  const outDir = fileURLToPath(options.outDir ?? new URL("./dist/", CLIENT_DIR));
  const packages = await Deno.makeTempDir({ prefix: "wb-client-packages-" });
  try {
    for (const name of CLIENT_PACKAGES) {
      await Deno.symlink(await packageRoot(name), join(packages, name));
    }
    await Deno.remove(outDir, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    const result = await esbuild.build({
      entryPoints: [
        fileURLToPath(new URL("./src/app.tsx", CLIENT_DIR)),
        fileURLToPath(new URL("./src/app.css", CLIENT_DIR)),
      ],
      outdir: outDir,
      entryNames: "[name]-[hash]",
      bundle: true,
      format: "esm",
      target: "es2022",
      platform: "browser",
      minify: options.minify ?? true,
      sourcemap: "linked",
      jsx: "automatic",
      jsxImportSource: "preact",
      nodePaths: [packages],
      metafile: true,
      logLevel: "silent",
    });
    const outputs = Object.keys(result.metafile.outputs).map((path) => path.split("/").pop()!);
    const js = outputs.find((name) => /^app-[A-Z0-9]+\.js$/.test(name));
    const css = outputs.find((name) => /^app-[A-Z0-9]+\.css$/.test(name));
    if (!js || !css) throw new Error(`esbuild wrote ${outputs.join(", ")}: no app js/css`);
    const template = await Deno.readTextFile(new URL("./index.html", CLIENT_DIR));
    await Deno.writeTextFile(
      join(outDir, "index.html"),
      template.replace("/app.css", `/${css}`).replace("/app.js", `/${js}`),
    );
    const files: BuiltFile[] = [];
    for (const name of [js, css, "index.html"]) {
      const body = await Deno.readFile(join(outDir, name));
      files.push({ name, bytes: body.length, gzipBytes: gzipSync(body).length });
    }
    return { outDir, files, ms: Math.round(performance.now() - started) };
  } finally {
    await Deno.remove(packages, { recursive: true });
    await esbuild.stop();
  }
}

/** The folder of an npm package in Deno's cache (its `package.json` names it). */
async function packageRoot(name: string): Promise<string> {
  let dir = dirname(fileURLToPath(import.meta.resolve(name)));
  for (;;) {
    const manifest = await Deno.readTextFile(join(dir, "package.json")).then(
      (text) => JSON.parse(text) as { name?: string },
      () => undefined,
    );
    if (manifest?.name === name) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`No package.json of '${name}' above ${dir}`);
    dir = parent;
  }
}

if (import.meta.main) {
  try {
    const report = await buildClient();
    for (const file of report.files) {
      console.error(
        `${file.name.padEnd(22)} ${(file.bytes / 1024).toFixed(1).padStart(6)} KiB` +
          `  gzip ${(file.gzipBytes / 1024).toFixed(1).padStart(5)} KiB`,
      );
    }
    console.error(`Built the client into ${report.outDir} in ${report.ms} ms`);
  } catch (error) {
    console.error(String((error as Error)?.message ?? error));
    Deno.exit(1);
  }
}
