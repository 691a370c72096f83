/**
 * The national benchmark's processes: its own `redis-server` (own port and directory, the
 * redis.conf `wb` writes for an instance: `cli/redis.conf` plus port, dir, maxmemory and
 * password) and the app (`server/main.ts`) as a child process, both restartable on the same
 * files so the AOF is read back as after a `wb restart`.
 *
 * @module
 */
import { exitWithin, spawnBareServer, spawnDrained, stopChild, waitForOk } from "./child.ts";
import { redisConfigText } from "../cli/redis_config.ts";
import { freePort } from "../lib/testing/redis_server.ts";

const decoder = new TextDecoder();

/** Where the benchmark's Redis listens and keeps its files. */
export interface RedisSpec {
  port: number;
  /** Its directory: redis.conf, redis.log, appendonlydir/. */
  dir: string;
  password: string;
  /** `maxmemory` as redis.conf takes it, e.g. `256mb`, `4gb`. */
  maxmemory: string;
}

/** A running `redis-server`. */
export interface RedisProcess {
  spec: RedisSpec;
  /** `redis://:<password>@127.0.0.1:<port>`. */
  url: string;
  /** Runs `redis-cli` against it and returns its output (errors are in the text, e.g. `LOADING`). */
  cli(...args: string[]): Promise<string>;
  /** `INFO` fields (`used_memory`, `evicted_keys`, `loading`, …). */
  info(): Promise<Map<string, string>>;
  /** The log file's text. */
  log(): Promise<string>;
  /** `SHUTDOWN` (the AOF is flushed), then waits for the exit. */
  stop(): Promise<void>;
  exited: Promise<Deno.CommandStatus>;
}

/** A spec on a free port in `dir`. */
export function redisSpec(dir: string, maxmemory: string): RedisSpec {
  return { port: freePort(), dir, password: crypto.randomUUID(), maxmemory };
}

/**
 * Writes the instance's redis.conf (as `wb` does) and starts `redis-server` on it. Returns as
 * soon as the process is spawned: the caller decides whether to wait for `PONG`
 * ({@linkcode waitRedisReady}).
 */
export async function startRedisProcess(spec: RedisSpec): Promise<RedisProcess> {
  await Deno.mkdir(spec.dir, { recursive: true });
  const profile = await Deno.readTextFile(new URL("../cli/redis.conf", import.meta.url));
  const conf = `${spec.dir}/redis.conf`;
  await Deno.writeTextFile(
    conf,
    redisConfigText(
      profile,
      { id: "national", redisMaxmemory: spec.maxmemory, redisMaxmemoryPolicy: "allkeys-lru" },
      { port: spec.port, bind: "127.0.0.1", dir: spec.dir, logfile: `${spec.dir}/redis.log` },
      spec.password,
    ),
    { mode: 0o600 },
  );
  const child = new Deno.Command("redis-server", {
    args: [conf],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const cli = async (...args: string[]) => {
    const out = await new Deno.Command("redis-cli", {
      args: [
        "-h",
        "127.0.0.1",
        "-p",
        String(spec.port),
        "-a",
        spec.password,
        "--no-auth-warning",
        ...args,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return (decoder.decode(out.stdout) + decoder.decode(out.stderr)).trim();
  };
  return {
    spec,
    url: `redis://:${spec.password}@127.0.0.1:${spec.port}`,
    cli,
    async info() {
      const fields = new Map<string, string>();
      for (const line of (await cli("INFO", "everything")).split(/\r?\n/)) {
        const colon = line.indexOf(":");
        if (colon > 0 && !line.startsWith("#")) {
          fields.set(line.slice(0, colon), line.slice(colon + 1));
        }
      }
      return fields;
    },
    log: () => Deno.readTextFile(`${spec.dir}/redis.log`).catch(() => ""),
    async stop() {
      await cli("SHUTDOWN");
      await exitWithin(child, 60_000);
    },
    exited: child.status,
  };
}

/**
 * Polls `PING` every 10 ms until Redis answers `PONG` (not `LOADING`, not refused).
 *
 * @returns When it answered (`performance.now()`), and whether it answered `LOADING` meanwhile.
 * @throws {Error} After `timeoutMs`.
 */
export async function waitRedisReady(
  redis: RedisProcess,
  timeoutMs = 600_000,
): Promise<{ readyAt: number; sawLoading: boolean }> {
  const deadline = performance.now() + timeoutMs;
  let sawLoading = false;
  while (performance.now() < deadline) {
    const reply = await redis.cli("PING");
    if (reply === "PONG") return { readyAt: performance.now(), sawLoading };
    if (reply.includes("LOADING")) sawLoading = true;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`redis on ${redis.spec.port} did not answer PONG within ${timeoutMs} ms`);
}

/** The app as a child process. */
export interface AppProcess {
  url: string;
  /** The last 16 KB of its stderr. */
  tail(): string;
  /** SIGTERM, then SIGKILL after 10 s; waits for the exit. */
  stop(): Promise<void>;
}

/**
 * Spawns `server/main.ts` on a free port with the benchmark's environment (`fillConcurrency`:
 * its `FILL_CONCURRENCY`; unset, the app's default).
 */
export function startApp(
  env: { databaseUrl: string; redisUrl: string; fillConcurrency?: number },
): AppProcess {
  const port = freePort();
  const { child, tail } = spawnDrained(
    ["run", "-A", new URL("../server/main.ts", import.meta.url).pathname],
    {
      DENO_NO_UPDATE_CHECK: "1",
      PORT: String(port),
      HOST: "127.0.0.1",
      DATABASE_URL: env.databaseUrl,
      REDIS_URL: env.redisUrl,
      ADMIN_TOKEN: crypto.randomUUID(),
      OPEN_ACCESS: "true",
      REDIS_LOG_LEVEL: "warn",
      WB_INSTANCE: "national",
      ...(env.fillConcurrency ? { FILL_CONCURRENCY: String(env.fillConcurrency) } : {}),
    },
    16384,
  );
  let stopping: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    tail,
    stop() {
      stopping ??= stopChild(child);
      return stopping;
    },
  };
}

/**
 * Polls `/healthz` every 20 ms until it answers 200.
 *
 * @returns When it did (`performance.now()`).
 * @throws {Error} After `timeoutMs`, with the app's log tail.
 */
export async function waitAppHealthy(app: AppProcess, timeoutMs = 120_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const ok = await fetch(`${app.url}/healthz`, { signal: AbortSignal.timeout(5000) }).then(
      async (r) => {
        await r.body?.cancel();
        return r.ok;
      },
      () => false,
    );
    if (ok) return performance.now();
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`app did not answer /healthz within ${timeoutMs} ms:\n${app.tail()}`);
}

/** One timed request. */
export interface Timed {
  status: number;
  /** `X-Cache` (HIT, MISS, BYPASS, STALE) or `-`. */
  xCache: string;
  ms: number;
  bytes: number;
  /** When it was sent (`performance.now()`). */
  sentAt: number;
}

/**
 * GETs `url`, reads the whole body and times it. A failed connection or a request that takes
 * longer than `timeoutMs` (a hang) is `status` 0.
 */
export async function timedGet(url: string, timeoutMs = 300_000): Promise<Timed> {
  const sentAt = performance.now();
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = await response.arrayBuffer();
    return {
      status: response.status,
      xCache: response.headers.get("x-cache") ?? "-",
      ms: performance.now() - sentAt,
      bytes: body.byteLength,
      sentAt,
    };
  } catch {
    return { status: 0, xCache: "-", ms: performance.now() - sentAt, bytes: 0, sentAt };
  }
}

/** The app's path of a presentation object's items (what the benchmark requests). */
export function itemsPath(projectId: string, poId: string): string {
  return `/api/projects/${projectId}/presentation_objects/${poId}/items`;
}

/** Total size in bytes of the files in `dir` (the AOF directory). */
export async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile) total += (await Deno.stat(`${dir}/${entry.name}`)).size;
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return total;
}

/** The control route of the hit-latency rows (`bare_server.ts`), as a child process. */
export interface BareRoute {
  /** `GET` it: one Redis `GET` of the stored bytes, answered as they are. */
  url: string;
  stop(): Promise<void>;
}

/**
 * Stores `body` under a key of the benchmark's Redis and starts `bare_server.ts` on it: a bare
 * Hono route that answers a request with one Redis `GET` (no version lookup, no L1, no
 * middleware). Probed in turn with the app under the same load, it shows what the machine
 * alone does to a hit's latency (CPU run queue, steal), apart from what the app adds.
 *
 * @throws {Error} If it does not answer 2xx within 30 s (with its log tail), or answers other
 *   bytes than `body`.
 */
export async function startBareRoute(
  redis: RedisProcess,
  databaseUrl: string,
  projectId: string,
  poId: string,
  body: Uint8Array,
): Promise<BareRoute> {
  const key = `bench:bare:${poId}`;
  const set = new Deno.Command("redis-cli", {
    args: [
      "-p",
      String(redis.spec.port),
      "-a",
      redis.spec.password,
      "--no-auth-warning",
      "-x",
      "SET",
      key,
    ],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const writer = set.stdin.getWriter();
  await writer.write(body);
  await writer.close();
  if (!(await set.status).success) throw new Error(`redis-cli SET ${key} failed`);
  const port = freePort();
  const bare = spawnBareServer({
    port,
    redisUrl: redis.url,
    databaseUrl,
    key,
    projectId,
    poId,
  });
  const url = `http://127.0.0.1:${port}/bare`;
  try {
    await waitForOk(url, 30_000, bare.tail);
    const answered = await timedGet(url, 5000);
    if (answered.bytes !== body.byteLength) {
      throw new Error(`${url} answered ${answered.bytes} bytes, not the ${body.byteLength} stored`);
    }
  } catch (error) {
    await stopChild(bare.child);
    throw error;
  }
  return { url, stop: () => stopChild(bare.child) };
}
