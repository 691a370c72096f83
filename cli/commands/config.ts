/**
 * `wb init` and `wb c list | show | add | update | images | remove | tag | untag |
 * validate`: the options of each, mapped onto the functions of `init_instance.ts`,
 * `config_commands.ts` and `config_update.ts`.
 *
 * @module
 */

import { type Command, Option } from "@commander-js/extra-typings";
import {
  formatInstanceTable,
  globalImages,
  listInstances,
  removeInstance,
  showInstance,
  tagInstances,
  validateConfigFile,
} from "../config_commands.ts";
import { updateInstance } from "../config_update.ts";
import { IMAGE_ENV, IMAGE_ROLES, type ImageSettings } from "../images.ts";
import { initInstance } from "../init_instance.ts";
import {
  MAXMEMORY_POLICIES,
  parsePort,
  type RuntimeKind,
  validateWorkers,
} from "../instance_schema.ts";
import { type CommandEnv, examples, EXIT, imageOptions, TARGETS } from "./shared.ts";

/**
 * Adds `<name> <id>` creating an instance (`wb init`, `wb c add`) to `parent`.
 *
 * @param parent The program or the `c` group.
 * @param name `init` or `add`.
 * @param description Its help line.
 * @param env The program's environment.
 */
export function addInitCommand(
  parent: Command,
  name: string,
  description: string,
  env: CommandEnv,
): void {
  const { context } = env;
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
}

/**
 * Adds the `c` (`config`) group to the program.
 *
 * @param program The `wb` program.
 * @param env The program's environment.
 */
export function addConfigCommands(program: Command, env: CommandEnv): void {
  const { context, print, setExit } = env;
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

  addInitCommand(c, "add", "create an instance: config entry, directories, secrets", env);

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
}
