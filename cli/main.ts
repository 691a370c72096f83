/**
 * `wb`: the operator CLI. This entry only parses arguments, builds the context from the
 * environment and maps errors to exit codes (0 ok, 1 failure, 2 usage). The work is in
 * the functions of `cli/mod.ts`.
 *
 * @module
 */

import { Command, CommanderError } from "@commander-js/extra-typings";
import { resolveWbHome, type RuntimeKind } from "./config.ts";
import { defaultRepoRoot, type WbContext } from "./context.ts";
import { formatDemoReport, runDemo } from "./demo.ts";
import { CliError, UsageError } from "./errors.ts";
import {
  formatStatus,
  initInstance,
  loadInstance,
  pullImages,
  restartTargets,
  runTargets,
  statusTargets,
  stopTargets,
} from "./instances.ts";
import { consoleReporter } from "./reporter.ts";
import { parsePort } from "./config.ts";

/** Exit codes of `wb`. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

function positiveInt(value: string, what: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new UsageError(`Invalid ${what} '${value}': must be a positive integer`);
  }
  return Number(value);
}

/**
 * Builds the commander program bound to a context.
 *
 * @param context The context every command uses.
 * @param setExit Receives the exit code a command wants (e.g. 1 when the demo's cache did
 *   not survive the restart).
 * @returns The program; call `parseAsync(args, { from: "user" })`.
 * @example
 * ```ts
 * import { buildProgram } from "./main.ts";
 * import { memoryReporter } from "./reporter.ts";
 * const program = buildProgram({ home: "/tmp/wb", repoRoot: ".", reporter: memoryReporter() }, () => {});
 * ```
 */
export function buildProgram(context: WbContext, setExit: (code: number) => void) {
  const print = (text: string) => context.reporter.info(text);
  const program = new Command()
    .name("wb")
    .description("Operate health-analytics server instances (Postgres + Redis + app)")
    .showHelpAfterError()
    .exitOverride();

  program.command("init")
    .description("create an instance: config entry, directories, secrets")
    .argument("<id>", "instance id ([a-z][a-z0-9-]{0,30})")
    .option("--port <n>", "app port (default: first free from 8710)")
    .option("--runtime <runtime>", "docker or native", "native")
    .option("--label <label>", "human-readable label")
    .option("--tag <tag...>", "tags, for @<tag> targets")
    .option("--server-version <tag>", "wb-server image tag (docker)")
    .option("--admin-version <tag>", "wb-admin image tag (docker); no admin when unset")
    .option("--postgres-port <n>", "native Postgres port (default: port + 10000)")
    .option("--redis-port <n>", "native Redis port (default: port + 20000)")
    .action(async (id, o) => {
      if (o.runtime !== "docker" && o.runtime !== "native") {
        throw new UsageError(`Invalid runtime '${o.runtime}': use docker or native`);
      }
      await initInstance(context, id, {
        port: o.port === undefined ? undefined : parsePort(o.port),
        runtime: o.runtime as RuntimeKind,
        label: o.label,
        tags: o.tag,
        serverVersion: o.serverVersion,
        adminVersion: o.adminVersion,
        postgresPort: o.postgresPort === undefined
          ? undefined
          : parsePort(o.postgresPort, "Postgres port"),
        redisPort: o.redisPort === undefined ? undefined : parsePort(o.redisPort, "Redis port"),
      });
    });

  program.command("run")
    .alias("start")
    .description("start instances (network, Postgres, Redis, admin, app)")
    .argument("<targets...>", "ids, @all or @<tag>")
    .action(async (targets) => {
      await runTargets(context, targets);
    });

  program.command("stop")
    .description("stop instances (app, admin, Redis, Postgres, network)")
    .argument("<targets...>", "ids, @all or @<tag>")
    .action(async (targets) => {
      await stopTargets(context, targets);
    });

  program.command("restart")
    .description("stop, then start instances")
    .argument("<targets...>", "ids, @all or @<tag>")
    .action(async (targets) => {
      await restartTargets(context, targets);
    });

  program.command("status")
    .description("show services, /healthz and Redis key count")
    .argument("[targets...]", "ids, @all or @<tag> (default @all)")
    .action(async (targets) => {
      print(formatStatus(await statusTargets(context, targets.length ? targets : ["@all"])));
    });

  program.command("pull")
    .description("pull the docker images of docker instances")
    .argument("[targets...]", "ids, @all or @<tag> (default @all)")
    .action(async (targets) => {
      const images = await pullImages(context, targets.length ? targets : ["@all"]);
      print(`Pulled ${images.join(", ")}`);
    });

  program.command("load")
    .description("load facilities and generated data into an instance's database")
    .argument("<id>", "instance id")
    .option("--facilities <csv>", "GRID3 facilities CSV (default: a synthetic list)")
    .option("--scale <n>", "scale factor of the generated data")
    .option("--months <m>", "months of data to generate")
    .option("--reload", "load even when the database already has data", false)
    .action(async (id, o) => {
      await loadInstance({ ...context, echoLoader: true }, id, {
        facilitiesCsv: o.facilities,
        scale: o.scale === undefined ? undefined : positiveInt(o.scale, "scale"),
        months: o.months === undefined ? undefined : positiveInt(o.months, "months"),
        reload: o.reload,
      });
    });

  program.command("demo")
    .description(
      "start a native demo instance with the Kano data and show cold/warm/after-restart timings",
    )
    .option("--once", "stop the instance after the table", false)
    .option("--reload", "reload the data even when the database has some", false)
    .action(async (o) => {
      const report = await runDemo(context, { once: o.once, reload: o.reload });
      print(formatDemoReport(report));
      if (!o.once) {
        print(`\nThe server keeps running at ${report.url}\nStop it with: deno task wb stop demo`);
      }
      if (!report.allHitAfterRestart) setExit(EXIT.failure);
    });

  return program;
}

/**
 * Runs `wb` with arguments and environment; returns the exit code.
 *
 * @param args Command-line arguments (without the program).
 * @param env Environment (`WB_HOME`, `HOME`, `NO_COLOR`).
 * @returns 0 on success, 1 on failure, 2 on a usage error.
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * const code = await main(["status"], { WB_HOME: await Deno.makeTempDir() });
 * ```
 */
export async function main(args: string[], env: Record<string, string>): Promise<number> {
  const color = !env.NO_COLOR && Deno.stdout.isTerminal();
  const reporter = consoleReporter({ color });
  let exitCode: number = EXIT.ok;
  try {
    const context: WbContext = {
      home: resolveWbHome(env.WB_HOME, env.HOME),
      repoRoot: defaultRepoRoot(),
      reporter,
    };
    await buildProgram(context, (code) => exitCode = code).parseAsync(args, { from: "user" });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      const helpCodes = ["commander.helpDisplayed", "commander.help", "commander.version"];
      return helpCodes.includes(error.code) ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof CliError) {
      console.error(`error: ${error.message}`);
      return error.code === "usage" ? EXIT.usage : EXIT.failure;
    }
    console.error(error);
    return EXIT.failure;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args, Deno.env.toObject()));
}
