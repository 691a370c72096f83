/**
 * Who may touch a native instance: private file modes for everything under the instance
 * directory, and the identity checks `wb` makes before it sends a secret (a Unix socket in
 * a directory only the expected user can write; a TCP listener owned by the process `wb`
 * started). Linux only (`/proc`).
 *
 * @module
 */

import { join } from "node:path";
import { CliError } from "./errors.ts";

/** Owner ids of a file or process. */
export interface Ids {
  /** User id. */
  uid: number;
  /** Group id. */
  gid: number;
}

/**
 * The real user id of a process, from `/proc/<pid>/status`.
 *
 * @param pid Process id.
 * @returns The uid, or `undefined` when the process is gone.
 * @example
 * ```ts
 * import { processUid } from "./native_files.ts";
 * await processUid(Deno.pid); // e.g. 0
 * ```
 */
export async function processUid(pid: number): Promise<number | undefined> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const match = status.match(/^Uid:\s+(\d+)/m);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The executable name a process runs (`comm`, e.g. `redis-server`, `postgres`).
 *
 * @param pid Process id.
 * @returns The name, or `undefined` when the process is gone.
 */
export async function processName(pid: number): Promise<string | undefined> {
  try {
    return (await Deno.readTextFile(`/proc/${pid}/comm`)).trim();
  } catch {
    return undefined;
  }
}

/**
 * Checks that a Unix socket can only have been created by `expected`: its directory is owned
 * by `expected` and writable by nobody else, and the socket itself is owned by `expected`.
 * This is what makes it safe to send the instance's password over it.
 *
 * @param socket Path of the socket.
 * @param expectedUid The user the service runs as.
 * @param what What listens there, for the message (`Redis of 'web1'`).
 * @throws {CliError} Code `preflight` when the socket is missing or its directory or owner
 *   is not the expected one (the password is then not sent).
 * @example
 * ```ts
 * import { verifyPrivateSocket } from "./native_files.ts";
 * await verifyPrivateSocket("/wb/web1/redis/redis.sock", Deno.uid()!, "Redis of 'web1'");
 * ```
 */
export async function verifyPrivateSocket(
  socket: string,
  expectedUid: number,
  what: string,
): Promise<void> {
  const refuse = (reason: string): never => {
    throw new CliError(
      "preflight",
      `Not sending the password of ${what} to ${socket}: ${reason}`,
    );
  };
  const dir = socket.slice(0, socket.lastIndexOf("/")) || "/";
  const dirInfo = await Deno.lstat(dir).catch(() => undefined);
  if (!dirInfo?.isDirectory) refuse(`${dir} is not a directory`);
  if (dirInfo!.uid !== expectedUid) {
    refuse(`${dir} belongs to uid ${dirInfo!.uid}, not ${expectedUid}`);
  }
  if (dirInfo!.mode !== null && (dirInfo!.mode & 0o022) !== 0) {
    refuse(`${dir} is writable by others (mode ${(dirInfo!.mode & 0o777).toString(8)})`);
  }
  const info = await Deno.lstat(socket).catch(() => undefined);
  if (!info) refuse("there is no socket");
  if (!info!.isSocket) refuse("it is not a socket");
  if (info!.uid !== expectedUid) refuse(`it belongs to uid ${info!.uid}, not ${expectedUid}`);
}

/** One listening TCP socket, from `/proc/net/tcp` or `/proc/net/tcp6`. */
export interface TcpListener {
  /** Local address, e.g. `127.0.0.1` or `::`. */
  address: string;
  /** Local port. */
  port: number;
  /** Owner uid of the socket. */
  uid: number;
  /** Socket inode (matches `socket:[<inode>]` in `/proc/<pid>/fd`). */
  inode: number;
}

function hexAddress(hex: string): string {
  if (hex.length === 8) {
    const bytes = hex.match(/../g)!.map((b) => parseInt(b, 16)).reverse();
    return bytes.join(".");
  }
  const words = hex.match(/.{8}/g)!.map((w) =>
    w.match(/../g)!.reverse().join("").match(/.{4}/g)!.map((g) => parseInt(g, 16).toString(16))
  ).flat();
  const text = words.join(":");
  return text === "0:0:0:0:0:0:0:0" ? "::" : text === "0:0:0:0:0:0:0:1" ? "::1" : text;
}

/**
 * Parses `/proc/net/tcp` (or `tcp6`) and keeps the sockets in state LISTEN (`0A`).
 *
 * @param text The file's text.
 * @returns The listeners.
 * @example
 * ```ts
 * import { parseProcNetTcp } from "./native_files.ts";
 * const line = "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0 100 0 0 10 0";
 * parseProcNetTcp(`header\n${line}`); // [{ address: "127.0.0.1", port: 8080, uid: 0, inode: 12345 }]
 * ```
 */
export function parseProcNetTcp(text: string): TcpListener[] {
  const listeners: TcpListener[] = [];
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || fields[3] !== "0A") continue;
    const [address, port] = fields[1].split(":");
    listeners.push({
      address: hexAddress(address),
      port: parseInt(port, 16),
      uid: Number(fields[7]),
      inode: Number(fields[9]),
    });
  }
  return listeners;
}

/**
 * Every socket listening on a TCP port (IPv4 and IPv6), from `/proc/net`.
 *
 * @param port The port.
 * @returns The listeners (empty when the port is free or `/proc` is missing).
 */
export async function tcpListenersOn(port: number): Promise<TcpListener[]> {
  const all: TcpListener[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const text = await Deno.readTextFile(file).catch(() => "");
    all.push(...parseProcNetTcp(text).filter((l) => l.port === port));
  }
  return all;
}

/**
 * The socket inodes a process holds open (`socket:[N]` links in `/proc/<pid>/fd`).
 *
 * @param pid Process id.
 * @returns The inodes; empty when the process is gone or not ours to inspect.
 */
export async function socketInodesOf(pid: number): Promise<Set<number>> {
  const inodes = new Set<number>();
  try {
    for await (const entry of Deno.readDir(`/proc/${pid}/fd`)) {
      const target = await Deno.readLink(`/proc/${pid}/fd/${entry.name}`).catch(() => "");
      const match = target.match(/^socket:\[(\d+)\]$/);
      if (match) inodes.add(Number(match[1]));
    }
  } catch { /* gone */ }
  return inodes;
}

/**
 * Who holds a TCP port, relative to a set of processes: `free`, `ours` (one of `pids` holds
 * every listener on it) or `foreign` (someone else, with the owner uid).
 *
 * @param port The port.
 * @param pids Processes of the instance (app, Redis, Postgres).
 * @returns The verdict and, when foreign, the listener's owner uid.
 * @example
 * ```ts
 * import { portHolder } from "./native_files.ts";
 * await portHolder(9, []); // { holder: "free" }
 * ```
 */
export async function portHolder(
  port: number,
  pids: readonly number[],
): Promise<{ holder: "free" | "ours" | "foreign"; uid?: number }> {
  const listeners = await tcpListenersOn(port);
  if (listeners.length === 0) return { holder: "free" };
  const ours = new Set<number>();
  for (const pid of pids) for (const inode of await socketInodesOf(pid)) ours.add(inode);
  const foreign = listeners.find((l) => !ours.has(l.inode));
  return foreign ? { holder: "foreign", uid: foreign.uid } : { holder: "ours" };
}

/** Options of {@linkcode securePrivateTree}. */
export interface SecureTreeOptions {
  /**
   * Directories (absolute) whose contents belong to another service user and manage their
   * own modes (the Postgres data and socket directories): left alone.
   */
  skip?: readonly string[];
  /**
   * Directories that the Postgres user must be able to traverse (root running Postgres as
   * `postgres` inside the instance directory): `root:<gid> 0710` instead of 0700.
   */
  traversableBy?: { gid: number; dirs: readonly string[] };
}

/**
 * Makes a directory tree private to its owner: directories 0700, files 0600 (symlinks are
 * not followed). Instances created before this rule had 0755 directories and 0644 AOF files.
 *
 * @param root The instance directory.
 * @param options Directories to skip, directories a service group must traverse.
 * @returns How many entries had their mode changed.
 * @example
 * ```ts
 * import { securePrivateTree } from "./native_files.ts";
 * await securePrivateTree(await Deno.makeTempDir());
 * ```
 */
export async function securePrivateTree(
  root: string,
  options: SecureTreeOptions = {},
): Promise<number> {
  const skip = new Set(options.skip ?? []);
  const traversable = new Set(options.traversableBy?.dirs ?? []);
  let changed = 0;
  const fix = async (path: string, info: Deno.FileInfo) => {
    if (info.isSymlink || info.mode === null) return;
    if (info.isDirectory && traversable.has(path) && options.traversableBy) {
      if (info.gid !== options.traversableBy.gid) {
        await Deno.chown(path, null, options.traversableBy.gid);
      }
      if ((info.mode & 0o7777) !== 0o710) {
        await Deno.chmod(path, 0o710);
        changed++;
      }
      return;
    }
    const want = info.isDirectory ? 0o700 : 0o600;
    if ((info.mode & 0o077) !== 0 || (info.mode & want) !== want) {
      await Deno.chmod(path, want);
      changed++;
    }
  };
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (skip.has(path)) continue;
      const info = await Deno.lstat(path).catch(() => undefined);
      if (!info) continue;
      await fix(path, info);
      if (info.isDirectory) await walk(path);
    }
  };
  const info = await Deno.lstat(root).catch(() => undefined);
  if (!info?.isDirectory) return 0;
  await fix(root, info);
  await walk(root);
  return changed;
}
