/**
 * Shared helpers of the CLI tests (private to `cli/`).
 *
 * @module
 */

import { join } from "node:path";
import type { WbContext } from "./context.ts";
import { defaultRepoRoot } from "./context.ts";
import { memoryReporter } from "./reporter.ts";

/** A temporary `WB_HOME` with a context; dispose it with `await using`. */
export interface TempWb extends AsyncDisposable {
  /** The temporary `WB_HOME`. */
  home: string;
  /** Context with a memory reporter. */
  context: WbContext & { reporter: ReturnType<typeof memoryReporter> };
}

/**
 * Creates a temporary `WB_HOME` (mode 0755, so the `postgres` user can reach it).
 *
 * @param extra Context fields to add (env, appCommand...).
 * @returns The home and a context.
 */
export async function tempWb(extra: Partial<Omit<WbContext, "reporter">> = {}): Promise<TempWb> {
  const home = await Deno.makeTempDir({ prefix: "wb-cli-test-" });
  await Deno.chmod(home, 0o755);
  const context = { home, repoRoot: defaultRepoRoot(), ...extra, reporter: memoryReporter() };
  return {
    home,
    context,
    [Symbol.asyncDispose]: () => Deno.remove(home, { recursive: true }).catch(() => {}),
  };
}

/** A recording fake `docker` on a private `PATH`. */
export interface FakeDocker {
  /** Environment to pass as `WbContext.env`. */
  env: Record<string, string>;
  /** Every recorded argv, in order. */
  calls(): Promise<string[][]>;
  /** Forgets the recorded calls. */
  clear(): Promise<void>;
}

/**
 * Installs `testdata/fake_docker.sh` as `docker` in `<dir>/bin`.
 *
 * @param dir A temporary directory.
 * @param failOn When the space-joined argv contains this, the fake exits 1.
 * @returns Env and the recorded calls.
 */
export async function fakeDocker(dir: string, failOn?: string): Promise<FakeDocker> {
  const bin = join(dir, "bin");
  await Deno.mkdir(bin, { recursive: true });
  await Deno.copyFile(new URL("./testdata/fake_docker.sh", import.meta.url), join(bin, "docker"));
  await Deno.chmod(join(bin, "docker"), 0o755);
  const log = join(dir, "docker-calls.jsonl");
  await Deno.writeTextFile(log, "");
  return {
    env: {
      PATH: `${bin}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
      FAKE_DOCKER_LOG: log,
      ...(failOn ? { FAKE_DOCKER_FAIL: failOn } : {}),
    },
    calls: async () =>
      (await Deno.readTextFile(log)).split("\n").filter(Boolean).map((l) => JSON.parse(l)),
    clear: () => Deno.writeTextFile(log, ""),
  };
}

/**
 * A TCP port `p` such that `p`, `p + 10000` and `p + 20000` are all valid, picked at
 * random so parallel runs rarely collide (callers still check freeness).
 *
 * @returns A port between 12000 and 42000.
 */
export function randomBasePort(): number {
  return 12000 + Math.floor(Math.random() * 30000);
}

/** Fake apps answering `/healthz` for docker tests, where no container really listens. */
export interface FakeHealthz extends AsyncDisposable {
  /** How many `/healthz` requests each instance got. */
  hits: Map<string, number>;
}

/**
 * Serves `GET /healthz` (200) on each instance's port, standing in for the app container
 * the fake `docker run` did not start. Each request is appended to the fake docker's log
 * as `["@healthz", "<id>"]` before it is answered, so the recorded sequence shows where
 * `wb` waited for health between docker commands.
 *
 * @param instances Ids and ports.
 * @param log The fake docker's log (`FAKE_DOCKER_LOG`).
 * @returns The servers; dispose them with `await using`.
 */
export function fakeHealthz(
  instances: readonly { id: string; port: number }[],
  log: string,
): FakeHealthz {
  const hits = new Map<string, number>();
  const servers = instances.map(({ id, port }) =>
    Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, (request) => {
      if (new URL(request.url).pathname !== "/healthz") return new Response("", { status: 404 });
      hits.set(id, (hits.get(id) ?? 0) + 1);
      Deno.writeTextFileSync(log, JSON.stringify(["@healthz", id]) + "\n", { append: true });
      return Response.json({ ok: true, version: "9.9.9", instance: id, redis: "up" });
    })
  );
  return {
    hits,
    [Symbol.asyncDispose]: async () => {
      await Promise.all(servers.map((s) => s.shutdown()));
    },
  };
}
