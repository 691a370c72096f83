/**
 * The command line of `deno task chaos`, parsed apart from the run so a test can check what
 * the docs show without starting anything.
 *
 * @module
 */
import { parseArgs } from "node:util";

/** `deno task chaos`'s arguments: help, or the scenarios to run (`undefined`: every one). */
export type ChaosArgs = { help: true } | { help: false; only: string[] | undefined };

/**
 * The help text of `deno task chaos`.
 *
 * @param scenarioIds Every scenario id, in run order.
 * @returns The text, one option per line with its default.
 */
export function chaosUsage(scenarioIds: readonly string[]): string {
  return `Usage: deno task chaos [--only id,id]

Drives the real server through bounded Redis and Postgres faults on loopback (its own Postgres
cluster and redis-servers on free ports) and prints one Markdown row per scenario.

Options:
  --only <ids>   comma-separated scenario ids (default: every scenario, about 5 minutes):
                 ${scenarioIds.join(",")}
  -h, --help     this text`;
}

/**
 * Parses `deno task chaos`'s arguments. A leading `--` (as `deno task chaos -- --only x`
 * passes it through) is dropped.
 *
 * @param args The arguments after `chaos/main.ts`.
 * @param scenarioIds The known scenario ids.
 * @returns Help, or the chosen scenario ids.
 * @throws {TypeError} On an unknown option or a positional argument (`code` starts with
 *   `ERR_PARSE_ARGS`), or an unknown scenario id.
 * @example Pick two scenarios
 * ```ts
 * import { parseChaosArgs } from "./args.ts";
 * parseChaosArgs(["--only", "oom,postgres"], ["oom", "postgres", "redis-kill"]);
 * // { help: false, only: ["oom", "postgres"] }
 * ```
 */
export function parseChaosArgs(args: string[], scenarioIds: readonly string[]): ChaosArgs {
  const { values } = parseArgs({
    args: args[0] === "--" ? args.slice(1) : args,
    options: { only: { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return { help: true };
  const only = values.only?.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = only?.filter((id) => !scenarioIds.includes(id)) ?? [];
  if (unknown.length > 0) throw new TypeError(`unknown scenario: ${unknown.join(", ")}`);
  return { help: false, only };
}
