/**
 * Progress of a `docker pull`, read from the lines it prints when its output is not a
 * terminal (`<layer>: Pulling fs layer`, `<layer>: Pull complete`, `Status: ...`).
 *
 * @module
 */

/** How far one pull has got. */
export interface PullProgress {
  /** Layers the image has (as announced so far). */
  layers: number;
  /** Layers pulled or already present. */
  done: number;
  /** Docker's closing `Status:` line, once printed. */
  status?: string;
}

const LAYER_LINE = /^([0-9a-f]{12}): (.+)$/;
const DONE = new Set(["Pull complete", "Already exists"]);

/**
 * Tracks the layers of one `docker pull` line by line.
 *
 * @returns `feed(line)`, which returns the progress after that line.
 * @example
 * ```ts
 * import { pullTracker } from "./pull_progress.ts";
 * const track = pullTracker();
 * track("7cf63256a31a: Pulling fs layer");
 * track("7cf63256a31a: Pull complete"); // { layers: 1, done: 1 }
 * ```
 */
export function pullTracker(): (line: string) => PullProgress {
  const layers = new Set<string>();
  const done = new Set<string>();
  let status: string | undefined;
  return (line) => {
    const match = line.trim().match(LAYER_LINE);
    if (match) {
      layers.add(match[1]);
      if (DONE.has(match[2].trim())) done.add(match[1]);
    } else if (line.startsWith("Status: ")) {
      status = line.slice("Status: ".length).trim();
    }
    return { layers: layers.size, done: done.size, ...(status ? { status } : {}) };
  };
}

/**
 * Formats a pull's progress for a spinner or a line.
 *
 * @param progress From {@linkcode pullTracker}.
 * @returns E.g. `3/7 layers`, or Docker's status when it is done.
 * @example
 * ```ts
 * import { formatPullProgress } from "./pull_progress.ts";
 * formatPullProgress({ layers: 7, done: 3 }); // "3/7 layers"
 * ```
 */
export function formatPullProgress(progress: PullProgress): string {
  const layers = `${progress.done}/${progress.layers} layers`;
  return progress.status ? `${layers}; ${progress.status}` : layers;
}
