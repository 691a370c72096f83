/**
 * Commands on one instance: `wb logs`, `wb redis-cli`, `wb flush-cache` and `wb proxy`.
 *
 * @module
 */

import type { Command } from "@commander-js/extra-typings";
import { parseSince } from "../logs.ts";
import { flushCache, redisCli, showLogs } from "../ops.ts";
import { formatProxyPlan, proxyInstance } from "../proxy.ts";
import { type CommandEnv, examples, positiveInt } from "./shared.ts";

/**
 * Adds `logs`, `redis-cli`, `flush-cache` and `proxy` to the program.
 *
 * @param program The `wb` program.
 * @param env The program's environment.
 */
export function addInstanceCommands(program: Command, env: CommandEnv): void {
  const { context, print, setExit } = env;
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
      setExit(await redisCli(context, id, args, env.stdinIsTty));
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
}
