/**
 * The lifecycle commands: `wb run | stop | restart` (batches with a summary table),
 * `wb status`, `wb pull`, `wb build`, `wb load` and `wb demo`.
 *
 * @module
 */

import type { Command } from "@commander-js/extra-typings";
import { buildAppImages } from "../app_build.ts";
import { type BatchOptions, formatBatchSummary, type InstanceResult } from "../batch.ts";
import type { WbContext } from "../context.ts";
import { defaultFacilitiesCsv, formatDemoReport, runDemo } from "../demo.ts";
import {
  type LifecycleOptions,
  restartTargets,
  runTargets,
  statusExitCode,
  statusTargets,
  stopTargets,
} from "../lifecycle_targets.ts";
import { loadInstance } from "../load.ts";
import { formatPullTable, pullImages } from "../pull.ts";
import { formatImageLines, formatStatusTable } from "../status.ts";
import { addUser } from "../users.ts";
import {
  type CommandEnv,
  examples,
  EXIT,
  positiveInt,
  TARGETS,
  WAIT_HELP,
  waitMs,
} from "./shared.ts";

/**
 * Adds `run`, `stop`, `restart`, `status`, `pull`, `build` and `load` to the program.
 *
 * @param program The `wb` program.
 * @param env The program's environment.
 */
export function addLifecycleCommands(program: Command, env: CommandEnv): void {
  const { context, print, setExit } = env;
  /** `wb run|stop|restart`: a batch with a summary table, whatever happens. */
  const batch = async (
    work: (
      context: WbContext,
      targets: string[],
      options: LifecycleOptions,
    ) => Promise<InstanceResult[]>,
    targets: string[],
    o: { parallel?: string; wait?: string; startStopped?: boolean },
  ) => {
    let results: InstanceResult[] = [];
    const started = performance.now();
    const run = (signal?: AbortSignal) =>
      work(
        {
          ...context,
          ...(signal ? { signal } : {}),
          ...(o.wait === undefined ? {} : { lockWaitMs: waitMs(o.wait) }),
        },
        targets,
        {
          ...(o.parallel === undefined ? {} : { parallel: positiveInt(o.parallel, "--parallel") }),
          ...(o.startStopped ? { startStopped: true } : {}),
          onDone: (all: InstanceResult[]) => results = all,
        } as BatchOptions,
      );
    try {
      await (env.guard(run));
    } finally {
      if (results.length > 0) {
        print("\n" + formatBatchSummary(results, performance.now() - started));
      }
    }
  };

  // --- lifecycle ---------------------------------------------------------------------------
  program.command("run")
    .alias("start")
    .description("start instances: network, Postgres, Redis, admin, app; waits for each")
    .argument("<targets...>", TARGETS)
    .option("--parallel <n>", "instances started at once (default 1)")
    .option("--wait <seconds>", WAIT_HELP)
    .addHelpText(
      "after",
      examples(
        "wb run demo",
        "wb run @prod --parallel 4",
        "# a failed or interrupted (Ctrl-C) start removes what it created",
      ),
    )
    .action(async (targets, o) => {
      await batch(runTargets, targets, o);
    });

  program.command("stop")
    .description("stop instances: app, admin, Redis (AOF flushed), Postgres, network")
    .argument("<targets...>", TARGETS)
    .option("--parallel <n>", "instances stopped at once (default 1)")
    .option("--wait <seconds>", WAIT_HELP)
    .addHelpText("after", examples("wb stop demo", "wb stop @all --parallel 8"))
    .action(async (targets, o) => {
      await batch(stopTargets, targets, o);
    });

  program.command("restart")
    .description(
      "rolling restart: stop, start and wait for /healthz, one instance (or --parallel N) at a time",
    )
    .argument("<targets...>", TARGETS)
    .option(
      "--parallel <n>",
      "instances restarted at once (default 1); the first failure stops the roll",
    )
    .option("--start-stopped", "also start the stopped instances of a group target", false)
    .option("--wait <seconds>", WAIT_HELP)
    .addHelpText(
      "after",
      examples(
        "wb restart demo",
        "wb restart @all                 # only the running ones",
        "wb restart @all --start-stopped",
        "wb restart server=1.4.2 --parallel 2",
        "# refuses, leaving the instance running, when its start could not succeed",
      ),
    )
    .action(async (targets, o) => {
      await batch(restartTargets, targets, o);
    });

  program.command("status")
    .description(
      "per instance: services, /healthz and app version, Redis keys, memory, AOF, last start",
    )
    .argument("[targets...]", `${TARGETS} (default @all)`)
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      examples("wb status", "wb status @prod", "wb status demo --json") +
        "\n\nExit codes: 0 every instance healthy; 1 one is unhealthy or degraded (Redis down);\n" +
        "3 none unhealthy, one stopped; 4 none unhealthy, one unknown (Docker daemon unreachable).",
    )
    .action(async (targets, o) => {
      const statuses = await statusTargets(context, targets.length ? targets : ["@all"]);
      print(
        o.json
          ? JSON.stringify(statuses, null, 2)
          : [formatStatusTable(statuses), ...formatImageLines(statuses)].join("\n"),
      );
      setExit(statusExitCode(statuses));
    });

  program.command("pull")
    .description(
      "pull the images docker instances run, with progress; shows each service's image",
    )
    .argument("[targets...]", `${TARGETS} (default @all)`)
    .addHelpText("after", examples("wb pull", "wb pull @prod"))
    .action(async (targets) => {
      const results = await pullImages(context, targets.length ? targets : ["@all"]);
      print(formatPullTable(results));
      const missing = results.filter((r) => r.status === "missing");
      print(
        `${results.length} image(s): ${
          results.filter((r) => r.status === "pulled").length
        } pulled, ${
          results.filter((r) => r.status === "local").length
        } local only, ${missing.length} missing`,
      );
      if (missing.length > 0) setExit(EXIT.failure);
    });

  program.command("build")
    .description(
      "build the app image of docker instances from this checkout (offline: npm packages from this machine's Deno cache)",
    )
    .argument("[targets...]", `${TARGETS} (default @all)`)
    .addHelpText(
      "after",
      examples(
        "wb build demo",
        "wb c update web1 --server-version 1.5.0 && wb build web1 && wb restart web1",
        "wb c images --deno-image wb-local/deno:2.9.6 && wb build @all",
      ),
    )
    .action(async (targets) => {
      const results = await buildAppImages(context, targets.length ? targets : ["@all"]);
      print(
        results.length === 0
          ? "No docker instance among the targets"
          : results.map((r) => `${r.image} (on ${r.base}): ${r.ids.join(", ")}`).join("\n"),
      );
    });

  program.command("load")
    .description("load facilities and generated data into an instance's database")
    .argument("<id>", "instance id")
    .option(
      "--facilities <csv>",
      "GRID3 facilities CSV (default: ../shared/data/grid3_nga_health_facilities_v2_kano.csv " +
        "next to the repository when present, else a synthetic list of 1723 facilities)",
    )
    .option("--scale <n>", "copies of the facility list (default 1)")
    .option("--months <m>", "months of modelled HMIS data, ending 2025-12 (default 60)")
    .option("--reload", "load even when the database already has data", false)
    .addHelpText(
      "after",
      examples(
        "wb load demo",
        "wb load demo --facilities ./my_state.csv --months 24 --reload",
      ),
    )
    .action(async (id, o) => {
      const facilitiesCsv = o.facilities ?? await defaultFacilitiesCsv(context.repoRoot);
      if (facilitiesCsv === undefined) {
        context.reporter.warn(
          "no --facilities and no Kano file next to the repository: loading a SYNTHETIC list",
        );
      }
      await loadInstance({ ...context, echoLoader: true }, id, {
        facilitiesCsv,
        scale: o.scale === undefined ? undefined : positiveInt(o.scale, "scale"),
        months: o.months === undefined ? undefined : positiveInt(o.months, "months"),
        reload: o.reload,
      });
    });
}

/**
 * Adds `demo` to the program.
 *
 * @param program The `wb` program.
 * @param env The program's environment.
 */
export function addDemoCommand(program: Command, env: CommandEnv): void {
  const { context, print, setExit } = env;
  program.command("demo")
    .summary("start the demo instance with the Kano data; cold/warm/after-restart timings")
    .description(
      "create (or reuse) the instance 'demo' (native when the Postgres and Redis binaries are " +
        "installed, else docker), load the Kano facilities (a synthetic list when the file is " +
        "absent), start it and show cold/warm/after-restart timings",
    )
    .option("--once", "stop the instance after the table", false)
    .option("--reload", "reload the data even when the database has some", false)
    .addHelpText("after", examples("wb demo --once"))
    .action(async (o) => {
      const demo = (signal?: AbortSignal) =>
        runDemo(signal ? { ...context, signal } : context, { once: o.once, reload: o.reload });
      const report = await (env.guard(demo));
      print(formatDemoReport(report));
      if (!o.once) {
        // Reads need a login: a one-time link for the demo's administrator.
        const admin = await addUser(context, report.instance.id, "admin@demo.local", {
          role: "admin",
        });
        print(
          `\nThe server keeps running at ${report.url}\n` +
            `Log in as its administrator (one-time link, 24 h): ${admin.loginUrl}\n` +
            `More users: deno task wb user add demo <email> [--admin]\n` +
            `Stop it with: deno task wb stop demo`,
        );
      }
      if (!report.allHitAfterRestart) setExit(EXIT.failure);
    });
}
