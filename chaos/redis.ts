/**
 * The chaos suite's own `redis-server`: the instance profile `wb` ships (`cli/redis.conf`:
 * AOF `everysec` with an RDB preamble, `allkeys-lru`, lazy frees) on a free loopback port
 * in a temporary directory, with the handles the faults need: SIGKILL, `SHUTDOWN`,
 * restart on the same port and directory (reloading the AOF), `redis-cli`, and a file size
 * limit (`prlimit --fsize`) that makes every later AOF or RDB write fail with `EFBIG`, the
 * way a full disk or quota does. `SIGXFSZ` is ignored (set before `exec`) so the write
 * fails instead of the signal killing the server.
 *
 * @module
 */
import { freePort } from "../lib/testing/redis_server.ts";
import { redisProcess } from "../lib/testing/redis_process.ts";
import { onCleanUp, run, runOk } from "./process.ts";

/** The profile of an instance's Redis, as `wb` starts it. */
export const REDIS_PROFILE = new URL("../cli/redis.conf", import.meta.url).pathname;

/** A `redis-server` owned by one scenario. Dispose it to kill it and remove its files. */
export interface ChaosRedis extends AsyncDisposable {
  port: number;
  /** `redis://127.0.0.1:<port>`. */
  url: string;
  /** Working directory (the AOF lives in `appendonlydir/`). */
  dir: string;
  /** Pid of the running server, `undefined` while stopped. */
  pid(): number | undefined;
  /** SIGKILL: no flush beyond what already reached the kernel. */
  kill(): Promise<void>;
  /** `SHUTDOWN` (the AOF is flushed and fsynced), then waits for the exit. */
  shutdown(): Promise<void>;
  /** Starts it again on the same port and directory and waits until it answers PONG. */
  restart(): Promise<void>;
  /** `redis-cli` with `args`; its stdout, trimmed (errors are printed on stdout too). */
  cli(...args: string[]): Promise<string>;
  /** The `cache:*` keys (SCAN, never KEYS). */
  cacheKeys(): Promise<Set<string>>;
  /** One `INFO` section as fields. */
  info(section: string): Promise<Record<string, string>>;
  /** Limits the size of files the server writes, in bytes (`unlimited` lifts it). */
  limitFileSize(bytes: number | "unlimited"): Promise<void>;
  /** The server's log so far. */
  log(): Promise<string>;
}

/**
 * Starts a `redis-server` with the instance profile plus `overrides` (e.g.
 * `["--maxmemory-policy", "noeviction"]`) and waits until it answers PONG.
 *
 * @throws {Error} If it does not answer within 10 s (its log is in the message).
 */
export async function startChaosRedis(overrides: string[] = []): Promise<ChaosRedis> {
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "wb-chaos-redis-" });

  const cli = async (...args: string[]) =>
    (await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args])).stdout.trim();

  const server = redisProcess({
    command: () =>
      new Deno.Command("bash", {
        args: [
          "-c",
          `trap '' XFSZ; exec redis-server "$@"`,
          "redis-server",
          REDIS_PROFILE,
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--dir",
          dir,
          "--logfile",
          `${dir}/redis.log`,
          "--maxmemory",
          "256mb",
          ...overrides,
        ],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }),
    ping: () => cli("PING"),
    logFile: `${dir}/redis.log`,
    name: `redis-server on port ${port}`,
    readyTimeoutMs: 10_000,
  });
  const start = server.start;
  const kill = server.kill;

  const shutdown = async () => {
    if (server.pid() === undefined) return;
    await cli("SHUTDOWN");
    await server.exited();
  };

  const info = async (section: string) => {
    const text = await cli("INFO", section);
    return Object.fromEntries(
      text.split(/\r?\n/).filter((line) => line.includes(":")).map((line) => {
        const at = line.indexOf(":");
        return [line.slice(0, at), line.slice(at + 1)];
      }),
    );
  };

  const destroy = async () => {
    unregister();
    await kill();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const unregister = onCleanUp(destroy);

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    pid: server.pid,
    kill,
    shutdown,
    restart: start,
    cli,
    async cacheKeys() {
      const out = await runOk("redis-cli", [
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "--scan",
        "--pattern",
        "cache:*",
      ]);
      return new Set(out.split("\n").filter(Boolean));
    },
    info,
    async limitFileSize(bytes) {
      const pid = server.pid();
      if (pid === undefined) {
        throw new Error("Cannot limit the file size of a stopped redis-server");
      }
      // The soft limit only: raising it back needs no privilege (the hard one stays).
      await runOk("prlimit", ["--pid", String(pid), `--fsize=${bytes}:`]);
    },
    log: () => Deno.readTextFile(`${dir}/redis.log`).catch(() => ""),
    [Symbol.asyncDispose]: destroy,
  };
}
