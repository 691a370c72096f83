/**
 * Day-to-day operations on one instance: `wb logs`, `wb redis-cli`, `wb flush-cache`.
 *
 * @module
 */

import { loadConfig, resolveTargets } from "./config.ts";
import { type Instance } from "./instance_schema.ts";
import type { WbContext } from "./context.ts";
import { CliError, UsageError } from "./errors.ts";
import { runtimeFor } from "./instances.ts";
import { type LogsOptions, type Service, servicesOf } from "./plan.ts";
import { probeHttp } from "./process.ts";
import { runInteractive } from "./runner.ts";
import { selectLines } from "./logs.ts";
import { appUrl } from "./runtime.ts";
import { readSecrets } from "./secrets.ts";

/** Looks up exactly one instance by id. */
async function oneInstance(context: WbContext, id: string): Promise<Instance> {
  if (id.startsWith("@") || id.startsWith("server=")) {
    throw new UsageError(`'${id}' names a group; this command takes one instance id`);
  }
  const [instance] = resolveTargets(await loadConfig(context.home), [id]);
  return instance;
}

/**
 * `wb logs <id> [service]`: prints (or follows) one service's log.
 *
 * @param context The context.
 * @param id Instance id.
 * @param service `app`, `redis`, `postgres` or `admin`. @default {"app"}
 * @param options Follow, last lines.
 * @returns The exit code of `docker logs` / `tail`.
 * @throws {UsageError} On a service the instance does not have.
 * @example
 * ```ts
 * import { showLogs } from "./ops.ts";
 * import { consoleReporter } from "./reporter.ts";
 * await showLogs({ home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() }, "demo", "redis", { tailLines: 50 });
 * ```
 */
export async function showLogs(
  context: WbContext,
  id: string,
  service = "app",
  options: LogsOptions = {},
): Promise<number> {
  const instance = await oneInstance(context, id);
  const services: Service[] = servicesOf(instance).filter((s) => s !== "network");
  if (!services.includes(service as Service)) {
    throw new UsageError(
      `'${id}' has no service '${service}'; use one of ${services.join(", ")}`,
    );
  }
  const runtime = runtimeFor(context, instance);
  if (runtime.logFiles) {
    // Native: read the log (its rotated files first) here, so --since and -n see all of it.
    const files = await runtime.logFiles(instance, service as Service);
    const lines: string[] = [];
    for (const file of files) {
      const text = await Deno.readTextFile(file).catch(() => "");
      lines.push(...text.split("\n").filter((line, i, all) => line !== "" || i < all.length - 1));
    }
    const out = selectLines(lines, options);
    if (out.length > 0) await writeAll(out.join("\n") + "\n");
    if (!options.follow) return 0;
    const current = files[files.length - 1];
    return await runInteractive(
      { title: `Follow ${current}`, command: "tail", args: ["-n", "0", "-F", current] },
      { env: context.env, reporter: context.reporter },
    );
  }
  const step = await runtime.logsStep(instance, service as Service, options);
  return await runInteractive(step, { env: context.env, reporter: context.reporter });
}

async function writeAll(text: string): Promise<void> {
  const data = new TextEncoder().encode(text);
  let written = 0;
  while (written < data.length) written += await Deno.stdout.write(data.subarray(written));
}

/**
 * `wb redis-cli <id> [args]`: runs `redis-cli` against the instance's Redis, logged in
 * with its password (through `REDISCLI_AUTH`, never argv).
 *
 * @param context The context.
 * @param id Instance id.
 * @param args redis-cli arguments; none opens its prompt.
 * @param tty Whether our stdin is a terminal. @default {false}
 * @returns redis-cli's exit code.
 * @example
 * ```ts
 * import { redisCli } from "./ops.ts";
 * import { consoleReporter } from "./reporter.ts";
 * await redisCli({ home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() }, "demo", ["DBSIZE"]);
 * ```
 */
export async function redisCli(
  context: WbContext,
  id: string,
  args: string[],
  tty = false,
): Promise<number> {
  const instance = await oneInstance(context, id);
  const step = await runtimeFor(context, instance).redisCliStep(instance, args, tty);
  return await runInteractive(step, { env: context.env, reporter: context.reporter });
}

/** How `wb flush-cache` flushed. */
export interface FlushResult {
  /** `app`: through `POST /caches/flush-all` (in-process caches and Redis); `redis`: `FLUSHDB`. */
  via: "app" | "redis";
  /** What happened, for people. */
  message: string;
}

/**
 * `wb flush-cache <id>`: empties the instance's caches. While the app runs, through its
 * `POST /caches/flush-all` (so its in-process caches go too); otherwise `FLUSHDB` on its
 * Redis, authenticated with the instance's password.
 *
 * @param context The context.
 * @param id Instance id.
 * @returns Which way it went.
 * @throws {CliError} When the app refuses (401/403/503) or Redis does not answer.
 * @example
 * ```ts
 * import { flushCache } from "./ops.ts";
 * import { consoleReporter } from "./reporter.ts";
 * const { message } = await flushCache({ home: "/root/.wb", repoRoot: ".", reporter: consoleReporter() }, "demo");
 * ```
 */
export async function flushCache(context: WbContext, id: string): Promise<FlushResult> {
  const instance = await oneInstance(context, id);
  const url = appUrl(instance);
  const health = await probeHttp(`${url}/healthz`);
  if (health.ok) {
    const { adminToken } = await readSecrets(instance.instanceDir);
    context.reporter.step(`POST ${url}/caches/flush-all`);
    const response = await fetch(`${url}/caches/flush-all`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}` },
      signal: AbortSignal.timeout(30_000),
    });
    const body = await response.text();
    if (response.status === 200) {
      return {
        via: "app",
        message:
          `Flushed the caches of '${id}' through the app (POST /caches/flush-all): its in-process caches and its Redis`,
      };
    }
    let detail = body.trim();
    try {
      detail = JSON.parse(body).message ?? detail;
    } catch { /* not JSON */ }
    throw new CliError(
      response.status === 503 ? "not_running" : "command_failed",
      `The app of '${id}' answered HTTP ${response.status} to POST /caches/flush-all: ${detail}`,
    );
  }
  await runtimeFor(context, instance).flushRedis(instance);
  return {
    via: "redis",
    message: `The app of '${id}' is not running; flushed its Redis directly (FLUSHDB)`,
  };
}
