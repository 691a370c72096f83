/**
 * `wb run` and `wb restart` build the web client (`client/build.ts`) when `client/dist/`
 * is missing or older than its sources, so the login link never opens "The web client is
 * not built".
 *
 * @module
 */

import { join } from "node:path";
import { denoPathOf, type WbContext } from "./context.ts";
import { acquireLock } from "./lock.ts";
import type { Step } from "./plan.ts";
import { runStep } from "./runner.ts";

/** Whether the built client is there and newer than every source. */
export type ClientBuildState = "missing" | "stale" | "fresh";

/** Sources whose change makes `client/dist/` stale (relative to the repository root). */
export const CLIENT_SOURCES: readonly string[] = Object.freeze([
  "client/src",
  "client/build.ts",
  "client/deno.json",
  "deno.json",
  "deno.lock",
]);

async function newestMtime(path: string): Promise<number> {
  const info = await Deno.stat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory) return info.mtime?.getTime() ?? 0;
  let newest = info.mtime?.getTime() ?? 0;
  for await (const entry of Deno.readDir(path)) {
    newest = Math.max(newest, await newestMtime(join(path, entry.name)));
  }
  return newest;
}

/**
 * Compares `client/dist/index.html` with the newest of {@linkcode CLIENT_SOURCES}.
 *
 * @param repoRoot The repository root.
 * @returns `missing`, `stale` or `fresh`.
 * @example
 * ```ts
 * import { clientBuildState } from "./client_build.ts";
 * await clientBuildState("."); // e.g. "fresh"
 * ```
 */
export async function clientBuildState(repoRoot: string): Promise<ClientBuildState> {
  const built = await Deno.stat(join(repoRoot, "client", "dist", "index.html")).catch(() =>
    undefined
  );
  if (!built?.mtime) return "missing";
  let newest = 0;
  for (const source of CLIENT_SOURCES) {
    newest = Math.max(newest, await newestMtime(join(repoRoot, source)));
  }
  return newest > built.mtime.getTime() ? "stale" : "fresh";
}

/**
 * The step that builds the client: `deno run -A client/build.ts`.
 *
 * @param context Repository root and `deno`.
 * @returns The step.
 */
export function clientBuildStep(context: Pick<WbContext, "repoRoot" | "denoPath">): Step {
  return {
    title: "Build the web client (client/build.ts)",
    command: denoPathOf(context),
    args: ["run", "-A", join(context.repoRoot, "client", "build.ts")],
    env: { DENO_NO_UPDATE_CHECK: "1" },
    cwd: context.repoRoot,
  };
}

/**
 * Builds the client when it is missing or stale; one build at a time per repository
 * (concurrent `wb run` wait for it).
 *
 * @param context The context.
 * @returns What the state was before (`fresh`: nothing was done).
 * @throws {CommandFailedError} When the build fails (its stderr in the message).
 */
export async function ensureClientBuilt(context: WbContext): Promise<ClientBuildState> {
  const before = await clientBuildState(context.repoRoot);
  if (before === "fresh") return before;
  await using _lock = await acquireLock(join(context.repoRoot, "client", ".build.lock"), {
    what: "the web client build",
    command: context.command ?? "wb run",
    waitMs: 120_000,
    reporter: context.reporter,
  });
  if (await clientBuildState(context.repoRoot) === "fresh") return before;
  context.reporter.info(`The web client is ${before}: building it`);
  await runStep(clientBuildStep(context), { env: context.env, reporter: context.reporter });
  return before;
}
