/**
 * What the docker suite (`docker/wb_e2e.ts`) works with: a real engine (the one of
 * `DOCKER_HOST`, else a private one it starts), the stand-in images, `wb` run as the
 * operator runs it (`deno run -A cli/main.ts`, a subprocess), `docker` itself, HTTP with an
 * instance's admin token, and `docker events` between two instants. No mocks.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { defaultRepoRoot, freePort, kanoCsvPath, readSecrets } from "../cli/mod.ts";
import { startEngine, stopEngine } from "./engine.ts";
import { buildStandInImages, defaultCacheDir, pinnedDenoVersion } from "./images.ts";

/** Repository root. */
export const REPO = defaultRepoRoot();

const decoder = new TextDecoder();

/** Output of a finished command. */
export interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** The engine the suite uses. */
export interface World {
  /** `DOCKER_HOST`. */
  host: string;
  /** Whether the suite started the engine (and stops it at the end). */
  own: boolean;
  /** The engine's directory when the suite owns it. */
  dir?: string;
  /** `WB_HOME` of the suite's instances (starts empty). */
  home: string;
  /** Environment of every `wb` and `docker` the suite runs. */
  env: Record<string, string>;
  /** Milliseconds the setup took, by phase. */
  timings: Record<string, number>;
}

let world: Promise<World> | undefined;

/**
 * The suite's engine and `WB_HOME`, made on first use: an engine (`DOCKER_HOST` when it
 * answers, else a private dockerd), the stand-in images (built unless the engine has them),
 * an empty `WB_HOME`. The stand-ins are the machine-wide image defaults (`WB_*_IMAGE`), as an
 * operator of a machine without a registry would set them.
 */
export function getWorld(): Promise<World> {
  return world ??= makeWorld();
}

async function makeWorld(): Promise<World> {
  const timings: Record<string, number> = {};
  let started = performance.now();
  const inherited = Deno.env.get("DOCKER_HOST");
  let host: string;
  let own = false;
  let dir: string | undefined;
  if (inherited) {
    host = inherited;
    const info = await run("docker", ["info", "--format", "{{.ServerVersion}}"], {
      DOCKER_HOST: host,
    });
    assert.equal(info.code, 0, `DOCKER_HOST=${host} does not answer: ${info.stderr}`);
  } else {
    dir = await Deno.makeTempDir({ prefix: "wb-e2e-docker-" });
    const engine = await startEngine(dir);
    host = engine.host;
    own = true;
    // If the suite dies, its engine goes with it.
    globalThis.addEventListener("unload", () => {
      try {
        Deno.kill(engine.pid, "SIGTERM");
      } catch { /* gone */ }
    });
  }
  timings.engine = performance.now() - started;
  started = performance.now();
  const denoVersion = await pinnedDenoVersion(REPO);
  await buildStandInImages({
    repoRoot: REPO,
    cacheDir: defaultCacheDir(),
    env: { ...Deno.env.toObject(), DOCKER_HOST: host },
    log: (line) => console.log(`  ${line}`),
  });
  timings.standInImages = performance.now() - started;
  const home = await Deno.makeTempDir({ prefix: "wb-e2e-home-" });
  await Deno.chmod(home, 0o755);
  const env = {
    PATH: Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/root",
    DOCKER_HOST: host,
    WB_HOME: home,
    WB_POSTGRES_IMAGE: "wb-local/postgres:15",
    WB_REDIS_IMAGE: "wb-local/redis:7",
    WB_DENO_IMAGE: `wb-local/deno:${denoVersion}`,
    DENO_NO_UPDATE_CHECK: "1",
    NO_COLOR: "1",
    CI: "1",
  };
  return { host, own, ...(dir ? { dir } : {}), home, env, timings };
}

/** Stops the suite's own engine (not one it was given) and removes its `WB_HOME`. */
export async function disposeWorld(): Promise<void> {
  if (!world) return;
  const w = await world;
  if (w.own && w.dir) await stopEngine(w.dir);
  await Deno.remove(w.home, { recursive: true }).catch(() => {});
}

/** Runs a command to completion; never throws on a non-zero exit. */
export async function run(
  command: string,
  args: string[],
  env: Record<string, string> = {},
  cwd = REPO,
): Promise<Output> {
  const out = await new Deno.Command(command, {
    args,
    env: { ...Deno.env.toObject(), ...env },
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** `docker <args>` against the suite's engine. */
export async function docker(...args: string[]): Promise<Output> {
  return run("docker", args, (await getWorld()).env);
}

/** `docker <args>` that must succeed; its stdout. */
export async function dockerOk(...args: string[]): Promise<string> {
  const out = await docker(...args);
  assert.equal(out.code, 0, `docker ${args.join(" ")} failed:\n${out.stderr}`);
  return out.stdout;
}

/** `wb <args>` as an operator runs it, with the suite's `WB_HOME` and engine. */
export async function wb(...args: string[]): Promise<Output> {
  const out = await run(
    Deno.execPath(),
    ["run", "-A", "cli/main.ts", ...args],
    (await getWorld()).env,
  );
  return out;
}

/** `wb <args>` that must exit 0; stdout and stderr together (wb reports on both). */
export async function wbOk(...args: string[]): Promise<string> {
  const out = await wb(...args);
  assert.equal(
    out.code,
    0,
    `wb ${args.join(" ")} exited ${out.code}:\n${out.stdout}\n${out.stderr}`,
  );
  return `${out.stdout}\n${out.stderr}`;
}

/** One suite instance. */
export interface TestInstance {
  id: string;
  port: number;
  instanceDir: string;
}

/** A free app port that is also not one of `taken`. */
export function appPort(taken: number[] = []): number {
  for (;;) {
    const port = freePort();
    if (!taken.includes(port)) return port;
  }
}

/** The facilities to load: the real Kano list when it is here (else the loader's synthetic one). */
export async function facilitiesCsv(): Promise<string | undefined> {
  const path = Deno.env.get("WB_FACILITIES_CSV") ?? kanoCsvPath(REPO);
  return await Deno.stat(path).then((s) => (s.isFile ? path : undefined), () => undefined);
}

/** An HTTP answer, read to the end. */
export interface Answer {
  status: number;
  xCache: string | null;
  body: string;
}

/** GET with the instance's admin token. */
export async function get(instance: TestInstance, path: string): Promise<Answer> {
  const { adminToken } = await readSecrets(instance.instanceDir);
  const response = await fetch(`http://127.0.0.1:${instance.port}${path}`, {
    headers: { authorization: `Bearer ${adminToken}` },
    signal: AbortSignal.timeout(30_000),
  });
  return {
    status: response.status,
    xCache: response.headers.get("x-cache"),
    body: await response.text(),
  };
}

/** Paths of every presentation object of the demo project: its detail and its items. */
export async function objectPaths(instance: TestInstance): Promise<string[]> {
  const list = await get(instance, "/api/projects/demo/presentation_objects");
  assert.equal(list.status, 200, list.body);
  const items = JSON.parse(list.body).items as { poId: string }[];
  assert.ok(items.length > 0, "the demo project has presentation objects");
  return items.flatMap(({ poId }) => {
    const base = `/api/projects/demo/presentation_objects/${encodeURIComponent(poId)}`;
    return [base, `${base}/items`];
  });
}

/** One `docker events` record. */
export interface EngineEvent {
  type: string;
  action: string;
  name: string;
  /** When, in milliseconds since the epoch. */
  ms: number;
}

/**
 * Lifecycle actions of containers and networks (not `exec_*` or `health_status`, which the
 * readiness polls and the app's HEALTHCHECK cause all the time).
 */
export const LIFECYCLE_ACTIONS: readonly string[] = [
  "create",
  "start",
  "kill",
  "die",
  "stop",
  "destroy",
  "connect",
  "disconnect",
];

/**
 * The engine's container and network lifecycle events between two instants (ms since the
 * epoch).
 */
export async function engineEvents(sinceMs: number, untilMs: number): Promise<EngineEvent[]> {
  const stdout = await dockerOk(
    "events",
    "--since",
    (sinceMs / 1000).toFixed(3),
    "--until",
    (untilMs / 1000).toFixed(3),
    "--filter",
    "type=container",
    "--filter",
    "type=network",
    "--format",
    "{{json .}}",
  );
  return stdout.split("\n").filter(Boolean).map((line) => {
    const e = JSON.parse(line);
    return {
      type: e.Type,
      action: e.Action,
      name: e.Actor?.Attributes?.name ?? "",
      ms: Number(BigInt(e.timeNano) / 1_000_000n),
    };
  }).filter((e) => LIFECYCLE_ACTIONS.includes(e.action));
}

/**
 * Per instance, the order its services were stopped in: a container's `stop`, the
 * network's `destroy`, as `app`, `admin`, `redis`, `postgres`, `network`.
 */
export function stopOrder(events: readonly EngineEvent[], id: string): string[] {
  const service = (e: EngineEvent) =>
    e.type === "network"
      ? e.name === id && e.action === "destroy" ? "network" : undefined
      : e.action !== "stop"
      ? undefined
      : e.name === id
      ? "app"
      : e.name.startsWith(`${id}-`)
      ? e.name.slice(id.length + 1)
      : undefined;
  return events.map(service).filter((s): s is string => s !== undefined);
}

/** The keys of an instance's Redis (through `wb redis-cli`, as an operator lists them). */
export async function redisKeys(id: string): Promise<string[]> {
  const out = await wbOk("redis-cli", id, "--scan");
  return out.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("•")).sort();
}

/** `DBSIZE` of an instance's Redis. */
export async function dbsize(id: string): Promise<number> {
  const out = await wb("redis-cli", id, "DBSIZE");
  assert.equal(out.code, 0, out.stderr);
  const line = out.stdout.split("\n").map((l) => l.trim()).filter((l) => /^\d+$/.test(l)).pop();
  assert.ok(line !== undefined, `DBSIZE printed no number: ${out.stdout}`);
  return Number(line);
}

/** Joins a path under an instance directory. */
export function inInstance(instance: TestInstance, ...parts: string[]): string {
  return join(instance.instanceDir, ...parts);
}
