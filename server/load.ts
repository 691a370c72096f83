/**
 * Entry: load an instance into the PostgreSQL database at `DATABASE_URL`.
 *
 * ```sh
 * DATABASE_URL=postgres://postgres@127.0.0.1:5432/wb deno task load \
 *   [--facilities <grid3.csv>] [--scale N] [--months M] [--seed S] [--facility-limit N]
 * ```
 *
 * `deno task load -- --facilities x.csv` works too: `deno task` passes the `--` through,
 * and {@linkcode parseLoadArgs} drops a leading one.
 *
 * Without `--facilities` the real Kano file next to the repository is used when present,
 * else a synthetic list (with a notice). Exit codes: 0 done, 1 load failed, 2 usage error.
 *
 * With `REDIS_URL` (or `REDIS_CLUSTER_NODES`) set, the import is announced to the running
 * servers (`structure_imported`, `dataset_imported` ×2, `module_run`): they clear what has
 * no version and tell their browsers. With `CACHE_MIRRORS` and `MIRROR_SECRET` set, the
 * invalidations are mirrored too (waiting up to 10 s for the deliveries).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { RedisStore } from "../lib/mod.ts";
import { readConfig, redisTargetOf } from "./config.ts";
import { connectPostgres, DatabaseUnavailableError } from "./db.ts";
import { serverEventsFromConfig, versionedWrites } from "./events/mod.ts";
import {
  DEFAULT_END_PERIOD,
  DEFAULT_GRID3_CSV,
  DEFAULT_MONTHS,
  findDefaultGrid3Csv,
  Grid3FormatError,
  type LoadOptions,
} from "./load/mod.ts";

/** What `deno task load --help` prints: every option with what happens without it. */
export const LOAD_USAGE =
  `Usage: deno task load [--facilities <grid3.csv>] [--scale N] [--months M] \
[--seed S] [--facility-limit N]

Loads the facilities, modelled HMIS and HFA data and the demo project into the database at
DATABASE_URL (the schema is created or migrated first; a second load replaces the data).

Options:
  --facilities <csv>    GRID3 facilities CSV (default: ${DEFAULT_GRID3_CSV.pathname}
                        when present, else a synthetic list of 1723 facilities, with a notice)
  --scale N             copies of the facility list (default 1)
  --months M            months of HMIS data, ending ${DEFAULT_END_PERIOD} (default ${DEFAULT_MONTHS})
  --seed S              seed of the data models (default 1)
  --facility-limit N    keep only the first N facilities of the list (default: all)
  -h, --help            this text

Environment: DATABASE_URL (required), e.g. postgres://postgres@127.0.0.1:5432/wb;
REDIS_URL or REDIS_CLUSTER_NODES (optional) to tell running servers.
A leading "--" (as \`deno task load -- --facilities x.csv\` passes it) is ignored.`;

/** A usage error of the loader's command line (exit code 2). */
export class LoadUsageError extends Error {
  override name = "LoadUsageError";
}

function intOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new LoadUsageError(`--${name} must be a positive integer (got "${value}")`);
  }
  return Number(value);
}

/** The loader's command line, parsed: `help`, or what to load. */
export type LoadArgs =
  | { help: true }
  | {
    help: false;
    options: Pick<LoadOptions, "facilitiesCsv" | "scale" | "months" | "seed" | "facilityLimit">;
  };

/**
 * Parses the loader's arguments. A leading `--` is dropped: `deno task load -- --scale 2`
 * passes it through to the script.
 *
 * @param args The arguments after `server/load.ts`.
 * @returns Whether help was asked for, else the load options (unset ones take the defaults
 *   of {@linkcode LOAD_USAGE}).
 * @throws {LoadUsageError} On a non-positive or non-integer number.
 * @throws {TypeError} With a `code` starting `ERR_PARSE_ARGS` (node:util `parseArgs`) on an
 *   unknown option, a missing value or a positional argument.
 * @example Parse what the README's task table shows
 * ```ts
 * import { parseLoadArgs } from "./load.ts";
 * parseLoadArgs(["--", "--facilities", "kano.csv", "--scale", "2"]);
 * // { help: false, options: { facilitiesCsv: "kano.csv", scale: 2, ... } }
 * ```
 */
export function parseLoadArgs(args: string[]): LoadArgs {
  const { values } = parseArgs({
    args: args[0] === "--" ? args.slice(1) : args,
    options: {
      facilities: { type: "string" },
      scale: { type: "string" },
      months: { type: "string" },
      seed: { type: "string" },
      "facility-limit": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return { help: true };
  return {
    help: false,
    options: {
      facilitiesCsv: values.facilities,
      scale: intOption(values.scale, "scale"),
      months: intOption(values.months, "months"),
      seed: intOption(values.seed, "seed"),
      facilityLimit: intOption(values["facility-limit"], "facility-limit"),
    },
  };
}

async function main(args: string[]): Promise<number> {
  const parsed = parseLoadArgs(args);
  if (parsed.help) {
    console.log(LOAD_USAGE);
    return 0;
  }
  const { options } = parsed;
  const url = Deno.env.get("DATABASE_URL");
  if (!url) throw new LoadUsageError("DATABASE_URL is not set");
  if (options.facilitiesCsv === undefined && await findDefaultGrid3Csv() === undefined) {
    console.log(
      "notice: no --facilities and no GRID3 Kano file found; loading synthetic facilities",
    );
  }

  const config = readConfig(Deno.env.toObject());
  const db = connectPostgres(url, { max: 2 });
  const redisTarget = redisTargetOf(config); // a URL or a cluster
  const store = redisTarget
    ? await RedisStore.connect(redisTarget, { log: () => {} })
    : RedisStore.disabled();
  const events = serverEventsFromConfig(config, db, store);
  try {
    const summary = await versionedWrites(db, events).loadInstance({
      ...options,
      log: (line) => console.log(line),
    });
    console.log(
      [
        `loaded ${summary.source}`,
        `  facilities ${summary.facilities} (states ${summary.adminAreas.states}, LGAs ${summary.adminAreas.lgas}, wards ${summary.adminAreas.wards})`,
        `  hmis rows ${summary.hmisRows}, hfa rows ${summary.hfaRows}, result rows ${summary.resultsRows}`,
        `  versions: structure ${summary.versions.structure}, hmis ${summary.versions.hmis}, hfa ${summary.versions.hfa}`,
        `  time: total ${summary.ms.total} ms (read ${summary.ms.read}, load ${summary.ms.load}, analyze ${summary.ms.analyze}, module ${summary.ms.module})`,
      ].join("\n"),
    );
    console.log(
      !redisTarget
        ? "  REDIS_URL is unset: running servers were not told (their versions still flip)"
        : store.client
        ? "  running servers were told (structure, datasets, module run) over Redis"
        : "  Redis is unreachable: running servers were not told (their versions still flip)",
    );
    return 0;
  } finally {
    await events.close({ drainMs: 10_000 });
    await store.close();
    await db.close();
  }
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (error) {
    if (
      error instanceof LoadUsageError ||
      (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
    ) {
      console.error(`error: ${(error as Error).message}\n\n${LOAD_USAGE}`);
      code = 2;
    } else if (
      error instanceof DatabaseUnavailableError || error instanceof Grid3FormatError ||
      error instanceof Deno.errors.NotFound || (error instanceof Error && "severity" in error)
    ) {
      // Expected failures (database down or missing, bad or missing file, SQL error): no stack.
      console.error(`error: ${error.message}`);
      code = 1;
    } else {
      console.error(error);
      code = 1;
    }
  }
  Deno.exit(code);
}
