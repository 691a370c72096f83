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
  /** Starts the server again on the same port and directory (reloading its AOF). */
  restart(): Promise<void>;
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

  await server.start();
  const password = options.password ? `:${encodeURIComponent(options.password)}@` : "";
  return {
    port,
    url: `redis://${password}127.0.0.1:${port}`,
    dir,
    pid: server.pid,
    kill,
    restart: server.start,
    cli,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
