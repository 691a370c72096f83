/**
 * `wb`: the operator CLI. This entry only parses arguments, builds the context from the
 * environment, installs the SIGINT/SIGTERM handlers of lifecycle commands and maps errors
 * to exit codes (0 ok, 1 failure, 2 usage, 130 interrupted; `wb status`: see
 * {@linkcode STATUS_EXIT}). The work is in the functions of `cli/mod.ts`.
 *
 * @module
 */

import {
  Command,
  CommanderError,
  type CommandUnknownOpts,
  Option,
} from "@commander-js/extra-typings";
import tab from "@bomb.sh/tab/commander";
import { type BatchOptions, formatBatchSummary, type InstanceResult } from "./batch.ts";
import { resolveWbHome, targetCompletions } from "./config.ts";
import {
  MAXMEMORY_POLICIES,
  parsePort,
  type RuntimeKind,
  validateWorkers,
} from "./instance_schema.ts";
import { parseSince } from "./logs.ts";
import { buildAppImages } from "./app_build.ts";
import {
  formatInstanceTable,
  globalImages,
  listInstances,
  removeInstance,
  showInstance,
  tagInstances,
  validateConfigFile,
} from "./config_commands.ts";
import { updateInstance } from "./config_update.ts";
import { defaultRepoRoot, type WbContext } from "./context.ts";
import { defaultFacilitiesCsv, formatDemoReport, runDemo } from "./demo.ts";
import { CliError, UsageError } from "./errors.ts";
import {
  IMAGE_ENV,
  IMAGE_ROLES,
  type ImageRole,
  type ImageSettings,
  imageSettingsFromEnv,
} from "./images.ts";
import { loadInstance } from "./load.ts";
import { formatPullTable, pullImages } from "./pull.ts";
import {
  type LifecycleOptions,
  restartTargets,
  runTargets,
  STATUS_EXIT,
  statusExitCode,
  statusTargets,
  stopTargets,
} from "./lifecycle_targets.ts";
import { initInstance } from "./init_instance.ts";
import { flushCache, redisCli, showLogs } from "./ops.ts";
import { consoleReporter, type Reporter, spinnerReporter } from "./reporter.ts";
import { formatImageLines, formatStatusTable } from "./status.ts";
import { addUser, listUsers, removeUser, revokeUser } from "./users.ts";
import { renderTable } from "./table.ts";
import { formatProxyPlan, proxyInstance } from "./proxy.ts";

/** Exit codes of `wb` (`wb status` adds {@linkcode STATUS_EXIT}). */
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

export { STATUS_EXIT };

function positiveInt(value: string, what: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new UsageError(`Invalid ${what} '${value}': must be a positive integer`);
  }
  return Number(value);
}

/** `Examples:` help text, one `$ wb ...` line per example. */
/**
 * The image options of `wb c add|update|images` as an image update: `clearable` turns the
 * word `default` into `null` (back to the next layer).
 */
function imageOptions(
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

function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => (l.startsWith("#") ? `  ${l}` : `  $ ${l}`)).join("\n")}`;
}

const TARGETS = "ids, @all, @<tag> or server=<version>";

/** Options of {@linkcode buildProgram}. */
export interface ProgramOptions {
  /** Whether stdin is a terminal (`wb redis-cli` then gets one in docker). @default {false} */
  stdinIsTty?: boolean;
  /** Receives help text (`--help`). @default {commander's: stdout} */
  writeOut?: (text: string) => void;
  /** Receives usage errors and the help shown after them. @default {commander's: stderr} */
  writeErr?: (text: string) => void;
  /**
   * Lifecycle commands (`run`, `stop`, `restart`, `demo`) handle SIGINT and SIGTERM: the
   * first finishes the step under way and rolls back (exit 130), a second exits at once.
   * `main()` turns it on; tests pass their own `context.signal`. @default {false}
   */
  handleSignals?: boolean;
}

/**
 * Runs `work` with SIGINT and SIGTERM turned into an abort of the signal it receives:
 * the first asks the lifecycle code to finish the step under way and roll back, a second
 * exits at once (130), saying the instance may be half-started.
 */
async function withSignals<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const handlers: [Deno.Signal, () => void][] = (["SIGINT", "SIGTERM"] as const).map((
    name,
  ) => [name, () => {
    if (controller.signal.aborted) {
      console.error(
        `\n${name} again: exiting now; the instance may be half-started or half-stopped (check \`wb status\`)`,
      );
      Deno.exit(EXIT.interrupted);
    }
    console.error(
      `\n${name}: finishing the step under way, then rolling back a partial start (again to exit now)`,
    );
    controller.abort(name);
  }]);
  for (const [name, handler] of handlers) Deno.addSignalListener(name, handler);
  try {
    return await work(controller.signal);
  } finally {
    for (const [name, handler] of handlers) Deno.removeSignalListener(name, handler);
  }
}

/** `--wait <seconds>` as milliseconds. */
function waitMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    throw new UsageError(`Invalid --wait '${value}': seconds, 0 or more`);
  }
  return Number(value) * 1000;
}

/**
 * Builds the commander program bound to a context.
 *
 * @param context The context every command uses.
 * @param setExit Receives the exit code a command wants (e.g. 1 when the demo's cache did
 *   not survive the restart, or redis-cli's own exit code).
 * @param options Terminal facts.
 * @returns The program; call `parseAsync(args, { from: "user" })`.
 * @example
 * ```ts
 * import { buildProgram } from "./main.ts";
 * import { memoryReporter } from "./reporter.ts";
 * const program = buildProgram({ home: "/tmp/wb", repoRoot: ".", reporter: memoryReporter() }, () => {});
 * ```
 */
export function buildProgram(
  context: WbContext,
  setExit: (code: number) => void,
  options: ProgramOptions = {},
) {
  const print = (text: string) => context.reporter.info(text);
  const program = new Command()
    .name("wb")
    .description(
      "Operate health-analytics server instances (Postgres + Redis + app).\n" +
        `Targets: ${TARGETS}. Config: $WB_HOME/servers.json (default ~/.wb).`,
    )
    .configureOutput({
      ...(options.writeOut ? { writeOut: options.writeOut } : {}),
      ...(options.writeErr ? { writeErr: options.writeErr } : {}),
    })
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride()
    .addHelpText(
      "after",
      examples(
        "wb c add web1 --port 8720 --tag prod",
        "wb run @prod",
        "wb restart @all            # rolling: one instance at a time",
        "wb status --json",
        "wb complete bash > /etc/bash_completion.d/wb",
      ),
    );

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
      await (options.handleSignals ? withSignals(run) : run());
    } finally {
      if (results.length > 0) {
        print("\n" + formatBatchSummary(results, performance.now() - started));
      }
    }
  };
  const WAIT_HELP =
    "seconds to wait for another wb command on the same instance (0: fail at once; default 300)";

  const addCommand = (parent: typeof program, name: string, description: string) =>
    parent.command(name)
      .description(description)
      .argument("<id>", "instance id ([a-z][a-z0-9-]{0,30})")
      .option("--port <n>", "app port (default: first free from 8710)")
      .addOption(
        new Option("--runtime <runtime>", "how its services run").choices(["docker", "native"])
          .default("native"),
      )
      .option("--label <label>", "human-readable label")
      .option("--tag <tag...>", "tags, for @<tag> targets")
      .option("--server-version <tag>", "wb-server image tag (docker; default latest)")
      .option("--admin-version <tag>", "wb-admin image tag (docker); no admin when unset")
      .option("--postgres-port <n>", "native Postgres port (default: port + 10000)")
      .option("--redis-port <n>", "native Redis port (default: port + 20000)")
      .option("--redis-maxmemory <size>", "Redis memory bound, e.g. 512mb (default 256mb)")
      .addOption(
        new Option("--redis-policy <policy>", "Redis eviction policy (default allkeys-lru)")
          .choices(MAXMEMORY_POLICIES),
      )
      .option(
        "--workers <n>",
        "app worker processes sharing the instance's Redis (deno serve --parallel; default 1)",
      )
      .option(
        "--tcp",
        "native: Postgres and Redis also on loopback TCP (password-protected); default: Unix sockets only",
      )
      .option("--public-url <url>", "the URL people open (reverse proxy), used in login links")
      .option("--postgres-image <ref>", "docker: Postgres image (default: wb c images)")
      .option("--redis-image <ref>", "docker: Redis image (default: wb c images)")
      .option("--app-image <repository>", "docker: app image repository; its tag is the version")
      .option("--deno-image <ref>", "docker: base image wb build builds the app on")
      .option(
        "--publish-address <ip>",
        "docker: host address of the app port (default 127.0.0.1; 0.0.0.0: every interface)",
      )
      .addHelpText(
        "after",
        examples(
          `wb ${name === "add" ? "c add" : name} demo`,
          `wb ${
            name === "add" ? "c add" : name
          } web1 --port 8720 --tag prod eu --runtime docker --server-version 1.4.2`,
          `wb ${
            name === "add" ? "c add" : name
          } big --redis-maxmemory 2gb --redis-policy allkeys-lfu --workers 4`,
        ),
      )
      .action(async (id, o) => {
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
          redisMaxmemory: o.redisMaxmemory,
          redisMaxmemoryPolicy: o.redisPolicy,
          workers: o.workers === undefined ? undefined : validateWorkers(o.workers),
          tcp: o.tcp === true,
          publicUrl: o.publicUrl,
          images: imageOptions(o) as ImageSettings | undefined,
          publishAddress: o.publishAddress,
        });
      });

  addCommand(
    program,
    "init",
    "create an instance: config entry, directories, secrets (= wb c add)",
  );

  // --- wb c ... --------------------------------------------------------------------------
  const c = program.command("c")
    .alias("config")
    .description("edit servers.json: list, show, add, update, remove, tag, untag, validate")
    .addHelpText("after", examples("wb c list", "wb c show demo", "wb c validate"));

  c.command("list")
    .alias("ls")
    .description("list instances (no secrets)")
    .argument("[targets...]", `${TARGETS} (default @all)`)
    .option("--json", "print JSON")
    .addHelpText("after", examples("wb c list", "wb c list @prod", "wb c list server=1.4.2 --json"))
    .action(async (targets, o) => {
      const instances = await listInstances(context, targets);
      print(o.json ? JSON.stringify(instances, null, 2) : formatInstanceTable(instances));
    });

  c.command("show")
    .description("show one instance with its derived settings (URL, images, ports, files)")
    .argument("<id>", "instance id")
    .addHelpText("after", examples("wb c show demo"))
    .action(async (id) => {
      print(JSON.stringify(await showInstance(context, id), null, 2));
    });

  addCommand(c, "add", "create an instance: config entry, directories, secrets");

  c.command("update")
    .description("change instances' settings (applied by their next restart)")
    .argument("<targets...>", TARGETS)
    .option("--label <label>", "human-readable label")
    .option("--port <n>", "app port")
    .option("--postgres-port <n>", "native Postgres port")
    .option("--redis-port <n>", "native Redis port")
    .option("--server-version <tag>", "wb-server image tag ('latest' clears it)")
    .option("--admin-version <tag>", "wb-admin image tag")
    .option("--no-admin", "remove the admin service")
    .option("--redis-maxmemory <size>", "Redis memory bound, e.g. 512mb")
    .addOption(
      new Option("--redis-policy <policy>", "Redis eviction policy").choices(MAXMEMORY_POLICIES),
    )
    .option("--workers <n>", "app worker processes (deno serve --parallel above 1)")
    .option("--tcp", "native: Postgres and Redis also on loopback TCP (password-protected)")
    .option("--no-tcp", "native: Postgres and Redis on their Unix sockets only")
    .option("--public-url <url>", "the URL people open ('none' clears it)")
    .option("--postgres-image <ref>", "docker: Postgres image ('default' clears it)")
    .option("--redis-image <ref>", "docker: Redis image ('default' clears it)")
    .option("--app-image <repository>", "docker: app image repository ('default' clears it)")
    .option("--deno-image <ref>", "docker: base image of wb build ('default' clears it)")
    .option("--publish-address <ip>", "docker: host address of the app port ('default': 127.0.0.1)")
    .addHelpText(
      "after",
      examples(
        "wb c update web1 --server-version 1.5.0 && wb restart web1",
        "wb c update web1 --redis-image registry.example.org/redis:7.4 && wb restart web1",
        "wb c update @prod --server-version 2.0.0 && wb restart @prod",
        "wb c update web1 --public-url https://web1.example.org",
        "wb c update web1 --redis-maxmemory 1gb --redis-policy allkeys-lfu",
        "wb c update web1 --workers 4 && wb restart web1",
        "wb c update web1 --no-admin",
      ),
    )
    .action(async (targets, o) => {
      await updateInstance(context, targets, {
        label: o.label,
        port: o.port === undefined ? undefined : parsePort(o.port),
        postgresPort: o.postgresPort === undefined
          ? undefined
          : parsePort(o.postgresPort, "Postgres port"),
        redisPort: o.redisPort === undefined ? undefined : parsePort(o.redisPort, "Redis port"),
        serverVersion: o.serverVersion === "latest" ? null : o.serverVersion,
        adminVersion: o.admin === false ? null : o.adminVersion,
        redisMaxmemory: o.redisMaxmemory,
        redisMaxmemoryPolicy: o.redisPolicy,
        workers: o.workers === undefined ? undefined : validateWorkers(o.workers),
        tcp: o.tcp,
        publicUrl: o.publicUrl === "none" ? null : o.publicUrl,
        images: imageOptions(o, true),
        publishAddress: o.publishAddress === "default" ? null : o.publishAddress,
      });
    });

  c.command("images")
    .description(
      "show or set the images of docker instances that set none of their own (servers.json)",
    )
    .option("--postgres-image <ref>", "Postgres image ('default' clears it)")
    .option("--redis-image <ref>", "Redis image ('default' clears it)")
    .option("--app-image <repository>", "app image repository ('default' clears it)")
    .option("--deno-image <ref>", "base image of wb build ('default' clears it)")
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      examples(
        "wb c images",
        "wb c images --postgres-image wb-local/postgres:15 --redis-image wb-local/redis:7",
        "wb c images --redis-image default",
        `# below servers.json: ${IMAGE_ROLES.map((r) => IMAGE_ENV[r]).join(", ")}`,
      ),
    )
    .action(async (o) => {
      const { settings, effective } = await globalImages(context, imageOptions(o, true));
      if (o.json) {
        print(JSON.stringify({ settings, effective }, null, 2));
        return;
      }
      for (const role of IMAGE_ROLES) {
        const image = role === "app"
          ? `${effective.app.replace(/:latest$/, "")}:<version>`
          : effective[role];
        print(`${role.padEnd(8)} ${image}  (${effective.sources[role]})`);
      }
    });

  c.command("remove")
    .alias("rm")
    .description("remove an instance from servers.json (its data stays on disk)")
    .argument("<id>", "instance id")
    .option("--force", "remove it even while it runs", false)
    .addHelpText("after", examples("wb stop old && wb c remove old"))
    .action(async (id, o) => {
      await removeInstance(context, id, { force: o.force });
    });

  c.command("tag")
    .description("add tags to instances")
    .argument("<target>", TARGETS)
    .argument("<tags...>", "tags to add")
    .addHelpText("after", examples("wb c tag web1 canary", "wb c tag server=1.4.2 old-release"))
    .action(async (target, tags) => {
      await tagInstances(context, [target], tags);
    });

  c.command("untag")
    .description("remove tags from instances")
    .argument("<target>", TARGETS)
    .argument("<tags...>", "tags to remove")
    .addHelpText("after", examples("wb c untag @canary canary"))
    .action(async (target, tags) => {
      await tagInstances(context, [target], tags, true);
    });

  c.command("validate")
    .description("check servers.json: ids, ports (unique), versions, tags, Redis settings")
    .addHelpText("after", examples("wb c validate"))
    .action(async () => {
      const report = await validateConfigFile(context.home);
      for (const warning of report.warnings) context.reporter.warn(warning);
      for (const error of report.errors) console.error(`error: ${error}`);
      print(
        report.errors.length === 0
          ? `${report.path}: ${report.instances} instance(s), valid`
          : `${report.path}: ${report.errors.length} error(s)`,
      );
      if (report.errors.length > 0) setExit(EXIT.failure);
    });

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

  // --- one instance ------------------------------------------------------------------------
  program.command("logs")
    .description("print (or follow) the log of one service of an instance")
    .argument("<id>", "instance id")
    .argument("[service]", "app, redis, postgres or admin", "app")
    .option("-f, --follow", "keep printing new lines", false)
    .option("-n, --tail <lines>", "only the last lines (default: the whole log)")
    .option("--since <when>", "only lines since a time: 10m, 2h, 1d, or 2025-06-01T08:00:00Z")
    .addHelpText(
      "after",
      examples(
        "wb logs demo",
        "wb logs demo redis -n 50",
        "wb logs demo postgres -f",
        "wb logs demo --since 30m",
        "wb logs demo redis --since 2025-06-01T08:00:00Z",
      ),
    )
    .action(async (id, service, o) => {
      setExit(
        await showLogs(context, id, service, {
          follow: o.follow,
          ...(o.tail === undefined ? {} : { tailLines: positiveInt(o.tail, "--tail") }),
          ...(o.since === undefined ? {} : { since: parseSince(o.since, new Date()) }),
        }),
      );
    });

  program.command("redis-cli")
    .description("redis-cli against an instance's Redis, logged in with its password")
    .argument("<id>", "instance id")
    .argument("[args...]", "redis-cli arguments (none: its prompt)")
    .allowUnknownOption()
    .passThroughOptions()
    .addHelpText(
      "after",
      examples(
        "wb redis-cli demo",
        "wb redis-cli demo DBSIZE",
        "wb redis-cli demo --scan --pattern 'cache:po_items:*'",
      ),
    )
    .action(async (id, args) => {
      setExit(await redisCli(context, id, args, options.stdinIsTty ?? false));
    });

  program.command("flush-cache")
    .description("empty an instance's caches: through the app when it runs, else FLUSHDB")
    .argument("<id>", "instance id")
    .addHelpText("after", examples("wb flush-cache demo"))
    .action(async (id) => {
      print((await flushCache(context, id)).message);
    });

  program.command("proxy")
    .description(
      "serve an instance on its own host name behind TLS: print (or write) the nginx server " +
        "block and the certbot command",
    )
    .argument("<id>", "instance id")
    .requiredOption("--host <name>", "the instance's own DNS name")
    .option("--email <address>", "Let's Encrypt account e-mail")
    .option("--out <file>", "write the nginx block there instead of printing it")
    .addHelpText(
      "after",
      examples(
        "wb proxy kano --host kano.wb.example.org --email ops@example.org",
        "wb proxy kano --host kano.wb.example.org --out /tmp/wb-kano.conf",
      ),
    )
    .action(async (id, o) => {
      print(formatProxyPlan(await proxyInstance(context, id, o)));
    });

  // --- users of the web client ---------------------------------------------------------------
  const user = program.command("user")
    .description("users of the web client: add (one-time login link), list, revoke, remove")
    .addHelpText(
      "after",
      examples(
        "wb user add demo ada@example.org --admin",
        "wb user list demo",
        "wb user revoke demo ada@example.org",
      ),
    );

  user.command("add")
    .description(
      "create a user of the web client (an existing one keeps its role) and print a one-time login link",
    )
    .argument("<id>", "instance id")
    .argument("<email>", "the user's e-mail address")
    .option("--admin", "make it an administrator: may flush the shared cache, run modules, edit")
    .option("--viewer", "make it a viewer (reads only)")
    .addHelpText(
      "after",
      examples(
        "wb user add demo ada@example.org --admin",
        "wb user add demo viewer@example.org",
        "# the link is valid 24 h and works once; run it again for a new one (the role stays)",
      ),
    )
    .action(async (id, email, o) => {
      if (o.admin && o.viewer) throw new UsageError("Give --admin or --viewer, not both");
      const added = await addUser(context, id, email, {
        ...(o.admin ? { role: "admin" as const } : o.viewer ? { role: "viewer" as const } : {}),
      });
      print(
        `${added.created ? "Created" : "Updated"} ${added.email} (${
          added.isAdmin ? "administrator" : "viewer"
        }). One-time login link, valid until ${added.expiresAt}:\n${added.loginUrl}`,
      );
    });

  user.command("list")
    .alias("ls")
    .description("list the users of an instance: role, live sessions, pending login links")
    .argument("<id>", "instance id")
    .option("--json", "print JSON")
    .addHelpText("after", examples("wb user list demo", "wb user list demo --json"))
    .action(async (id, o) => {
      const users = await listUsers(context, id);
      print(
        o.json
          ? JSON.stringify(users, null, 2)
          : users.length === 0
          ? `'${id}' has no users; add one with \`wb user add ${id} <email>\``
          : renderTable(
            ["EMAIL", "ROLE", "SESSIONS", "PENDING LINKS", "CREATED"],
            users.map((u) => [
              u.email,
              u.isAdmin ? "administrator" : "viewer",
              String(u.activeSessions),
              String(u.pendingLinks),
              u.createdAt.slice(0, 10),
            ]),
          ),
      );
    });

  user.command("revoke")
    .description("end a user's sessions and void its unused login links (the user stays)")
    .argument("<id>", "instance id")
    .argument("<email>", "the user's e-mail address")
    .addHelpText("after", examples("wb user revoke demo ada@example.org"))
    .action(async (id, email) => {
      const revoked = await revokeUser(context, id, email);
      print(
        `Revoked ${email} on '${id}': ${revoked.sessions} session(s) ended, ${revoked.links} login link(s) voided`,
      );
    });

  user.command("remove")
    .alias("rm")
    .description("delete a user: its sessions and login links stop working at once")
    .argument("<id>", "instance id")
    .argument("<email>", "the user's e-mail address")
    .addHelpText("after", examples("wb user remove demo ada@example.org"))
    .action(async (id, email) => {
      await removeUser(context, id, email);
      print(`Removed ${email} from '${id}'; its sessions and login links no longer work`);
    });

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
      const report = await (options.handleSignals ? withSignals(demo) : demo());
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

  addCompletions(program, context.home);
  return program;
}

/** `wb complete <shell>` (and the hidden `complete -- <words>`), with targets completed. */
function addCompletions(program: Command, home: string): void {
  const completion = tab(program as never);
  const services = ["app", "redis", "postgres", "admin"];
  for (const command of completion.commands.values()) {
    for (const [name, argument] of command.arguments) {
      if (name === "targets" || name === "target") {
        argument.handler = (complete) => {
          for (const [value, description] of targetCompletions(home)) complete(value, description);
        };
      } else if (name === "id") {
        argument.handler = (complete) => {
          for (const [value, description] of targetCompletions(home)) {
            if (!value.startsWith("@") && !value.startsWith("server=")) {
              complete(value, description);
            }
          }
        };
      } else if (name === "service") {
        argument.handler = (complete) => services.forEach((s) => complete(s, "service"));
      }
    }
  }
  const shell = program.commands.find((cmd) => cmd.name() === "complete");
  shell?.addHelpText(
    "after",
    examples(
      "wb complete bash > /etc/bash_completion.d/wb",
      'wb complete zsh > "${fpath[1]}/_wb"',
      "wb complete fish > ~/.config/fish/completions/wb.fish",
      "# wb must be on PATH, e.g.: deno install -g -A -n wb --config deno.json cli/main.ts",
    ),
  );
}

/**
 * Drops the `--` that `deno task` passes through: `deno task wb -- c add x --port 1` runs
 * `cli/main.ts -- c add x --port 1`, and `deno task demo -- --once` runs
 * `cli/main.ts demo -- --once`. Only a `--` preceded by nothing but command names, of a
 * command that takes no arguments, is dropped; elsewhere it keeps its meaning
 * (`wb redis-cli demo -- --scan`, and `wb complete -- <words>`, which shells call).
 *
 * @param program The program (its command names decide).
 * @param args Command-line arguments (without the program).
 * @returns `args` without that `--`.
 * @example
 * ```ts
 * import { buildProgram, dropTaskSeparator } from "./main.ts";
 * import { memoryReporter } from "./reporter.ts";
 * const program = buildProgram({ home: "/tmp/wb", repoRoot: ".", reporter: memoryReporter() }, () => {});
 * dropTaskSeparator(program, ["demo", "--", "--once"]); // ["demo", "--once"]
 * ```
 */
export function dropTaskSeparator(program: CommandUnknownOpts, args: string[]): string[] {
  let command = program;
  for (const [i, arg] of args.entries()) {
    if (arg === "--") {
      return command.registeredArguments.length === 0
        ? [...args.slice(0, i), ...args.slice(i + 1)]
        : args;
    }
    const sub = command.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (sub === undefined) return args;
    command = sub;
  }
  return args;
}

/** Options of {@linkcode main}: where output goes, and whether to run anything. */
export interface MainOptions {
  /** Receives progress and results. @default {a spinner on a terminal, else console lines} */
  reporter?: Reporter;
  /** Receives help text. @default {stdout} */
  writeOut?: (text: string) => void;
  /** Receives usage errors and failure messages. @default {stderr} */
  writeErr?: (text: string) => void;
  /**
   * Parse and check the arguments (commands, options, arity, choices), run no command:
   * exit 0 when they parse, 2 when not. The docs test checks documented commands this way.
   * @default {false}
   */
  parseOnly?: boolean;
  /** Context fields a test entry sets (a fake app command, short timeouts). */
  context?: Partial<Omit<WbContext, "reporter">>;
}

/**
 * Runs `wb` with arguments and environment; returns the exit code.
 *
 * @param args Command-line arguments (without the program); a leading `--` from
 *   `deno task` is dropped ({@linkcode dropTaskSeparator}).
 * @param env Environment (`WB_HOME`, `HOME`, `NO_COLOR`, `CI`, `TERM`).
 * @param options Output destinations; `parseOnly`; context fields a test entry sets.
 * @returns 0 on success, 1 on failure, 2 on a usage error, 130 when interrupted (SIGINT,
 *   SIGTERM); `wb status` 0, 1, 3 or 4 ({@linkcode STATUS_EXIT}).
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * const code = await main(["status"], { WB_HOME: await Deno.makeTempDir() });
 * ```
 */
export async function main(
  args: string[],
  env: Record<string, string>,
  options: MainOptions = {},
): Promise<number> {
  const color = !env.NO_COLOR && Deno.stdout.isTerminal();
  const interactive = Deno.stderr.isTerminal() && !env.CI && env.TERM !== "dumb";
  const reporter = options.reporter ??
    (interactive ? spinnerReporter({ color }) : consoleReporter({ color }));
  const writeErr = options.writeErr ?? ((text: string) => console.error(text.trimEnd()));
  let exitCode: number = EXIT.ok;
  try {
    const imageDefaults = imageSettingsFromEnv(env);
    const context: WbContext = {
      home: resolveWbHome(env.WB_HOME, env.HOME),
      repoRoot: defaultRepoRoot(),
      reporter,
      command: ["wb", ...args].join(" "),
      ...(Object.keys(imageDefaults).length > 0 ? { imageDefaults } : {}),
      ...options.context,
    };
    const program = buildProgram(context, (code) => exitCode = code, {
      stdinIsTty: Deno.stdin.isTerminal(),
      writeOut: options.writeOut,
      writeErr: options.writeErr,
      handleSignals: !options.parseOnly,
    });
    if (options.parseOnly) forEachCommand(program, (command) => command.action(() => {}));
    await program.parseAsync(dropTaskSeparator(program, args), { from: "user" });
    reporter.end?.("ok");
    return exitCode;
  } catch (error) {
    reporter.end?.("failed");
    if (error instanceof CommanderError) {
      const helpCodes = ["commander.helpDisplayed", "commander.help", "commander.version"];
      return helpCodes.includes(error.code) ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof CliError) {
      writeErr(`error: ${error.message}\n`);
      return error.code === "usage"
        ? EXIT.usage
        : error.code === "interrupted"
        ? EXIT.interrupted
        : EXIT.failure;
    }
    writeErr(`${(error as Error)?.stack ?? error}\n`);
    return EXIT.failure;
  }
}

function forEachCommand(
  command: CommandUnknownOpts,
  visit: (command: CommandUnknownOpts) => void,
): void {
  visit(command);
  for (const sub of command.commands) forEachCommand(sub, visit);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args, Deno.env.toObject()));
}
