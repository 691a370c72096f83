/**
 * A private Docker engine for tests and CI: `dockerd` (Debian's `docker.io`, run as root)
 * with its own data root, exec root, pid file and socket in one directory, so it shares
 * nothing with any other engine on the machine:
 *
 * - `--iptables=false --ip-forward=false`: it leaves the host's firewall and sysctls alone
 *   (published ports go through docker-proxy, which is what binds them on the host);
 * - `--bridge=none`: no default bridge (`docker0`), which another engine may own; every
 *   container wb runs is on its instance's own network;
 * - `--default-address-pool 10.<n>.0.0/16`: the instance networks get subnets no route of
 *   the host uses yet (two engines at once get different ones).
 *
 * ```sh
 * eval "$(deno run -A docker/engine.ts start /tmp/wb-docker)"   # exports DOCKER_HOST
 * deno run -A docker/engine.ts stop /tmp/wb-docker               # stops it, removes the directory
 * ```
 *
 * @module
 */

import { join } from "node:path";

/** A running private engine. */
export interface Engine {
  /** Its directory (data root, exec root, socket, pid file, log). */
  dir: string;
  /** `DOCKER_HOST` of its socket: `unix://<dir>/docker.sock`. */
  host: string;
  /** The dockerd process id. */
  pid: number;
  /** Its log file. */
  log: string;
}

/** Files of an engine directory. */
export function enginePaths(dir: string) {
  return {
    dataRoot: join(dir, "data"),
    execRoot: join(dir, "exec"),
    pidFile: join(dir, "dockerd.pid"),
    socket: join(dir, "docker.sock"),
    log: join(dir, "dockerd.log"),
  };
}

const decoder = new TextDecoder();

async function output(command: string, args: string[], env?: Record<string, string>) {
  const out = await new Deno.Command(command, { args, env, stdout: "piped", stderr: "piped" })
    .output().catch((error) => ({
      code: 127,
      stdout: new Uint8Array(),
      stderr: new TextEncoder().encode(String(error)),
    }));
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** A `10.<n>.0.0/16` no route of the host touches (from a random start). */
async function freeAddressPool(): Promise<string> {
  const routes = (await output("ip", ["-4", "route"])).stdout;
  const start = 64 + Math.floor(Math.random() * 128);
  for (let i = 0; i < 128; i++) {
    const n = 64 + ((start - 64 + i) % 128);
    if (!routes.includes(`10.${n}.`)) return `10.${n}.0.0/16`;
  }
  throw new Error("No free 10.<n>.0.0/16 for the engine's networks");
}

/** Whether a process runs (and is not a zombie). */
async function alive(pid: number): Promise<boolean> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
  return stat !== "" && !/^\d+ \(.*\) Z/.test(stat);
}

/**
 * Starts `dockerd` in `dir` (created if missing), detached from this process so it outlives
 * a CLI that started it, and waits until `docker info` answers on its socket.
 *
 * @param dir The engine's directory; a short path (the socket paths inside must stay below
 *   108 bytes).
 * @param options `readyMs`: how long to wait. @default {60_000}
 * @returns The engine.
 * @throws {Error} When dockerd is missing, exits, or does not answer in time (with its log).
 */
export async function startEngine(
  dir: string,
  options: { readyMs?: number } = {},
): Promise<Engine> {
  const paths = enginePaths(dir);
  const found = await output("sh", ["-c", "command -v dockerd"]);
  if (found.code !== 0) {
    throw new Error("dockerd is not installed: apt-get install -y docker.io (Debian's package)");
  }
  if (Deno.uid() !== 0) throw new Error("dockerd runs as root: run this as root");
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const pool = await freeAddressPool();
  const args = [
    "--data-root",
    paths.dataRoot,
    "--exec-root",
    paths.execRoot,
    "--pidfile",
    paths.pidFile,
    "--host",
    `unix://${paths.socket}`,
    "--iptables=false",
    "--ip-forward=false",
    "--bridge=none",
    "--default-address-pool",
    `base=${pool},size=24`,
  ];
  const quoted = args.map((a) => `'${a}'`).join(" ");
  // setsid -f: a session of its own, so neither our exit nor our signals reach it.
  const spawned = await output("setsid", [
    "-f",
    "sh",
    "-c",
    `exec dockerd ${quoted} >>'${paths.log}' 2>&1 </dev/null`,
  ]);
  if (spawned.code !== 0) throw new Error(`Cannot start dockerd: ${spawned.stderr.trim()}`);
  const host = `unix://${paths.socket}`;
  const deadline = Date.now() + (options.readyMs ?? 60_000);
  let last = "";
  while (Date.now() < deadline) {
    const info = await output("docker", ["info", "--format", "{{.ServerVersion}}"], {
      ...Deno.env.toObject(),
      DOCKER_HOST: host,
    });
    if (info.code === 0) {
      const pid = Number((await Deno.readTextFile(paths.pidFile)).trim());
      return { dir, host, pid, log: paths.log };
    }
    last = info.stderr.trim();
    const pid = Number((await Deno.readTextFile(paths.pidFile).catch(() => "0")).trim());
    const log = await Deno.readTextFile(paths.log).catch(() => "");
    if (pid === 0 && /level=fatal|failed to start daemon/.test(log)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const log = (await Deno.readTextFile(paths.log).catch(() => "")).trim().split("\n").slice(-20);
  await stopEngine(dir, { remove: false }).catch(() => {});
  throw new Error(
    `dockerd in ${dir} did not answer \`docker info\` (${last || "no answer"}). Last log lines:\n${
      log.join("\n")
    }`,
  );
}

/**
 * Stops the engine of `dir`: SIGTERM to dockerd (it stops its containers and its
 * containerd), SIGKILL after `graceMs`; then unmounts anything left under `dir` and, with
 * `remove`, deletes the directory. An engine that is not running is fine.
 *
 * @param dir The engine's directory.
 * @param options `remove` the directory afterwards (default true); `graceMs` (default 30 s).
 */
export async function stopEngine(
  dir: string,
  options: { remove?: boolean; graceMs?: number } = {},
): Promise<void> {
  const paths = enginePaths(dir);
  const pid = Number((await Deno.readTextFile(paths.pidFile).catch(() => "0")).trim());
  if (pid > 0 && await alive(pid)) {
    Deno.kill(pid, "SIGTERM");
    const deadline = Date.now() + (options.graceMs ?? 30_000);
    while (await alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (await alive(pid)) Deno.kill(pid, "SIGKILL");
    while (await alive(pid)) await new Promise((r) => setTimeout(r, 100));
  }
  // A killed engine can leave overlay and network-namespace mounts behind.
  const mounts = (await Deno.readTextFile("/proc/mounts")).split("\n")
    .map((line) => line.split(" ")[1]).filter((m) => m?.startsWith(`${dir}/`)).reverse();
  for (const mount of mounts) await output("umount", ["-l", mount]);
  if (options.remove ?? true) await Deno.remove(dir, { recursive: true }).catch(() => {});
}

if (import.meta.main) {
  const [command, dir] = Deno.args;
  if (!["start", "stop"].includes(command) || !dir) {
    console.error("usage: deno run -A docker/engine.ts start|stop <dir>");
    Deno.exit(2);
  }
  try {
    if (command === "start") {
      const engine = await startEngine(dir);
      console.log(`export DOCKER_HOST=${engine.host}`);
      console.error(`dockerd ${engine.pid} answers on ${engine.host} (log: ${engine.log})`);
    } else {
      await stopEngine(dir);
      console.error(`dockerd of ${dir} stopped; ${dir} removed`);
    }
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}
