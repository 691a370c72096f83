/**
 * What every command group of `wb` shares: the exit codes, the environment a group is
 * registered with ({@linkcode CommandEnv}), and the small parsers and help helpers of
 * their options.
 *
 * @module
 */

import type { WbContext } from "../context.ts";
import { UsageError } from "../errors.ts";
import { IMAGE_ROLES, type ImageRole } from "../images.ts";

/** Exit codes of `wb` (`wb status` adds its own, see `STATUS_EXIT`). */
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

/** What a command group needs from the program it is added to. */
export interface CommandEnv {
  /** The context every command uses. */
  context: WbContext;
  /** Receives the exit code a command wants (e.g. redis-cli's own). */
  setExit: (code: number) => void;
  /** Prints a result line (the reporter's `info`). */
  print: (text: string) => void;
  /** Whether stdin is a terminal (`wb redis-cli` then gets one in docker). */
  stdinIsTty: boolean;
  /**
   * Runs lifecycle work (`run`, `stop`, `restart`, `demo`): under `main()` with SIGINT and
   * SIGTERM turned into an abort of the signal it receives, else as is.
   */
  guard: <T>(work: (signal?: AbortSignal) => Promise<T>) => Promise<T>;
}

/** How targets are written, for help texts. */
export const TARGETS = "ids, @all, @<tag> or server=<version>";

/** Help of `--wait`. */
export const WAIT_HELP =
  "seconds to wait for another wb command on the same instance (0: fail at once; default 300)";

/**
 * A positive integer option.
 *
 * @throws {UsageError} If `value` is not one; the message names the option (`what`).
 */
export function positiveInt(value: string, what: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new UsageError(`Invalid ${what} '${value}': must be a positive integer`);
  }
  return Number(value);
}

/**
 * `--wait <seconds>` as milliseconds.
 *
 * @throws {UsageError} If `value` is not a whole number of seconds.
 */
export function waitMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    throw new UsageError(`Invalid --wait '${value}': seconds, 0 or more`);
  }
  return Number(value) * 1000;
}

/** `Examples:` help text, one `$ wb ...` line per example (`#` lines are comments). */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => (l.startsWith("#") ? `  ${l}` : `  $ ${l}`)).join("\n")}`;
}

/**
 * The image options of `wb c add|update|images` as an image update: `clearable` turns the
 * word `default` into `null` (back to the next layer).
 */
export function imageOptions(
  o: { postgresImage?: string; redisImage?: string; appImage?: string; denoImage?: string },
  clearable = false,
): { [R in ImageRole]?: string | null } | undefined {
  const values: Record<ImageRole, string | undefined> = {
    postgres: o.postgresImage,
    redis: o.redisImage,
    app: o.appImage,
    deno: o.denoImage,
  };
  const update: { [R in ImageRole]?: string | null } = {};
  for (const role of IMAGE_ROLES) {
    const value = values[role];
    if (value !== undefined) update[role] = clearable && value === "default" ? null : value;
  }
  return Object.keys(update).length > 0 ? update : undefined;
}
