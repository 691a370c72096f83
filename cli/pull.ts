/**
 * `wb pull`: the images a set of docker instances needs, checked for and pulled, with a
 * table of what happened to each.
 *
 * @module
 */

import { loadConfig, resolveTargets } from "./config.ts";
import type { WbContext } from "./context.ts";
import { CommandFailedError } from "./errors.ts";
import { imagePresentStep, imagesToPull, pullStep } from "./image_pulls.ts";
import { resolveImages } from "./images.ts";
import { imageLayersOf } from "./instance_images.ts";
import { formatPullProgress, type PullProgress, pullTracker } from "./pull_progress.ts";
import { execStep, runStep } from "./runner.ts";
import { renderTable } from "./table.ts";

/** What `wb pull` did for one image. */
export interface PullResult {
  /** Image reference. */
  image: string;
  /** `<id> <service>` of every targeted service that runs it. */
  usedBy: string[];
  /**
   * `pulled` from its registry; `local`: not pulled (no registry has it, or none is
   * reachable) but present in the engine, which runs it; `missing`: neither.
   */
  status: "pulled" | "local" | "missing";
  /** Layers and Docker's closing status. */
  progress: PullProgress;
  /** How long the pull took, in milliseconds. */
  ms: number;
  /** Why the pull failed (docker's stderr), when it did. */
  error?: string;
}

/**
 * `wb pull [targets]`: pulls every image the targeted docker instances run (each
 * instance's Postgres, Redis, admin and app image under the configuration, see
 * `cli/images.ts`), one after the other, reporting each image's layers as they arrive. An
 * image no registry gives (a stand-in of `deno task docker:images`, an app image made by
 * `wb build`) is fine when the engine has it: the instance runs the local one.
 *
 * @param context The context.
 * @param targets Ids, `@all`, `@<tag>` or `server=<version>`. @default {["@all"]}
 * @returns One result per image; a `missing` one means an instance cannot start.
 * @throws {UnknownTargetError} On an unknown target.
 * @example
 * ```ts
 * import { pullImages } from "./pull.ts";
 * import { consoleReporter } from "./reporter.ts";
 * await pullImages({ home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() });
 * ```
 */
export async function pullImages(
  context: WbContext,
  targets: readonly string[] = ["@all"],
): Promise<PullResult[]> {
  const config = await loadConfig(context.home);
  const instances = resolveTargets(config, targets.length ? targets : ["@all"])
    .filter((i) => i.runtime === "docker");
  const layers = await imageLayersOf(context);
  const uses = imagesToPull(instances.map((i) => ({ id: i.id, images: resolveImages(i, layers) })));
  const options = { env: context.env, reporter: context.reporter };
  const results: PullResult[] = [];
  for (const [index, use] of uses.entries()) {
    const track = pullTracker();
    let progress: PullProgress = { layers: 0, done: 0 };
    const started = performance.now();
    const step = pullStep(use);
    let error: string | undefined;
    try {
      await runStep({ ...step, title: `${step.title} (${index + 1}/${uses.length})` }, {
        ...options,
        onStdoutLine: (line) => {
          progress = track(line);
          context.reporter.progress?.(formatPullProgress(progress));
        },
      });
    } catch (e) {
      if (!(e instanceof CommandFailedError)) throw e;
      error = e.stderr.split("\n").find((l) => l.trim()) ?? e.message;
    }
    const ms = performance.now() - started;
    const { image, usedBy } = use;
    if (error === undefined) {
      results.push({ image, usedBy, status: "pulled", progress, ms });
      context.reporter.info(
        `Pulled ${image}: ${formatPullProgress(progress)} in ${(ms / 1000).toFixed(1)} s`,
      );
      continue;
    }
    const present = (await execStep(imagePresentStep(image), options)).code === 0;
    results.push({ image, usedBy, status: present ? "local" : "missing", progress, ms, error });
    if (present) {
      context.reporter.info(`Kept the local ${image} (not pulled: ${error})`);
    } else {
      const ids = [...new Set(usedBy.map((u) => u.split(" ")[0]))];
      context.reporter.warn(
        `${image} is neither pullable nor in the engine (${error}); ${
          use.own
            ? `build it with \`wb build ${ids.join(" ")}\``
            : "set another image with `wb c update <id> --<service>-image` or `wb c images`"
        }. Needed by: ${usedBy.join(", ")}`,
      );
    }
  }
  return results;
}

/**
 * Formats `wb pull`'s results: one row per service, with the image it runs and what the
 * pull did.
 *
 * @param results From {@linkcode pullImages}.
 * @returns A table.
 * @example
 * ```ts
 * import { formatPullTable } from "./pull.ts";
 * formatPullTable([]); // "No docker instance among the targets"
 * ```
 */
export function formatPullTable(results: readonly PullResult[]): string {
  if (results.length === 0) return "No docker instance among the targets";
  const rows = results.flatMap((r) =>
    r.usedBy.map((use) => [...use.split(" "), r.image, r.status] as string[])
  ).sort((a, b) => a[0].localeCompare(b[0]));
  return renderTable(["INSTANCE", "SERVICE", "IMAGE", "PULL"], rows);
}
