/**
 * Test helper: a real `redis-server` on a free loopback port in a temporary directory,
 * for tests that kill, pause or restart Redis without touching the machine's shared one.
 *
 * @module
 */
import { redisProcess } from "./redis_process.ts";

/** A running `redis-server` owned by one test. Dispose it with `await using`. */
export interface TestRedis extends AsyncDisposable {
  /** TCP port on 127.0.0.1. */
  port: number;
  /** `redis://127.0.0.1:<port>` (with the password when one was set). */
  url: string;
  /** Data directory (AOF and RDB files live here). */
  dir: string;
  /** Process id of the running server, or `undefined` while it is stopped. */
  pid(): number | undefined;
  /** SIGKILLs the server (no AOF flush beyond what `appendfsync` already did). */
  kill(): Promise<void>;
  /**
   * Starts the server again on the same port and directory (reloading its AOF). Resolves
   * once it answers `PONG`, or with `{ loading: true }` as soon as it answers at all
   * (`LOADING` while it reads the AOF back).
   */
  restart(options?: { loading?: boolean }): Promise<void>;
  /**
   * Adds `keys` filler keys `filler:<n>` of `valueBytes` bytes each with `DEBUG POPULATE`
   * (needs `args: ["--enable-debug-command", "yes"]`), then rewrites the AOF
   * (`BGREWRITEAOF`, waited for), so that a restart spends a while loading it: on this
   * 2-core machine about 1.5 s per million keys (docs/operations.md, "Sizing").
   *
   * @throws {Error} If the rewrite does not finish within 60 s.
   */
  populateAof(keys: number, valueBytes?: number): Promise<void>;
  /** Whether the server says it is loading its dataset (`INFO persistence`, `loading:1`). */
  loading(): Promise<boolean>;
  /** Runs `redis-cli` against this server and returns its stdout, trimmed. */
  cli(...args: string[]): Promise<string>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startRedis}. */
export interface StartRedisOptions {
  /** Turn on the append-only file. @default {false} */
  appendonly?: boolean;
  /** `requirepass` value; unset means no password. */
  password?: string;
  /** Extra `redis-server` arguments, e.g. `["--maxmemory", "10mb"]`. */
  args?: string[];
}

/** Returns a TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * Starts a `redis-server` for one test and waits until it answers PING.
 *
 * @throws {Error} If the server does not answer within 5 s (its log is in the message).
 * @example
 * ```ts
 * await using redis = await startRedis();
 * ```
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<TestRedis> {
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "wb-test-redis-" });
  const auth = options.password ? ["-a", options.password, "--no-auth-warning"] : [];
  const cli = async (...args: string[]) => {
    const out = await new Deno.Command("redis-cli", {
      args: ["-h", "127.0.0.1", "-p", String(port), ...auth, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout).trim();
  };

  const server = redisProcess({
    command: () =>
      new Deno.Command("redis-server", {
        args: [
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--dir",
          dir,
          "--save",
          "",
          "--appendonly",
          options.appendonly ? "yes" : "no",
          "--logfile",
          `${dir}/redis.log`,
          ...(options.password ? ["--requirepass", options.password] : []),
          ...(options.args ?? []),
        ],
        stdout: "null",
        stderr: "null",
      }),
    ping: () => cli("PING"),
    logFile: `${dir}/redis.log`,
    name: `redis-server on port ${port}`,
  });
  const kill = server.kill;

  const stop = async () => {
    await kill();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };

  const populateAof = async (keys: number, valueBytes = 100) => {
    const populated = await cli("DEBUG", "POPULATE", String(keys), "filler:", String(valueBytes));
    if (populated !== "OK") throw new Error(`DEBUG POPULATE failed: ${populated}`);
    await cli("BGREWRITEAOF");
    const deadline = Date.now() + 60_000;
    for (;;) {
      const info = await cli("INFO", "persistence");
      if (/aof_rewrite_in_progress:0/.test(info) && !/aof_rewrite_scheduled:1/.test(info)) return;
      if (Date.now() > deadline) throw new Error("BGREWRITEAOF did not finish within 60 s");
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const loading = async () => /^loading:1/m.test(await cli("INFO", "persistence"));

  await server.start();
  const password = options.password ? `:${encodeURIComponent(options.password)}@` : "";
  return {
    port,
    url: `redis://${password}127.0.0.1:${port}`,
    dir,
    pid: server.pid,
    kill,
    restart: server.start,
    populateAof,
    loading,
    cli,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
