/**
 * Test helper: a real Redis Cluster (3 masters, 1 replica each by default) of
 * `redis-server --cluster-enabled yes` processes on free loopback ports, created with
 * `redis-cli --cluster create`, for tests that run the caches on a cluster, kill a master
 * or pause one.
 *
 * @module
 */
import { redisProcess } from "./redis_process.ts";

/**
 * A node's port and cluster-bus port, both free a moment ago and both below the kernel's
 * ephemeral range (32768+ here), where outgoing connections and other tests' free ports
 * land: picking bus ports there raced with them ("Address already in use" in CI).
 * Main ports come from 10000-14999, bus ports are main + 5000.
 */
function freeNodePorts(taken: Set<number>): [number, number] {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * 5000);
    const bus = port + 5000;
    if (taken.has(port) || taken.has(bus) || !bindable(port) || !bindable(bus)) continue;
    taken.add(port);
    taken.add(bus);
    return [port, bus];
  }
  throw new Error("no free pair of ports for a cluster node in 10000-19999");
}

function bindable(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

/** One node of a {@linkcode TestRedisCluster}. */
export interface TestClusterNode {
  /** TCP port on 127.0.0.1 (the cluster bus uses another free port). */
  port: number;
  /** `redis://127.0.0.1:<port>`. */
  url: string;
  /** Data directory (`nodes.conf`, the log). */
  dir: string;
  /** Process id of the running server, or `undefined` while it is stopped. */
  pid(): number | undefined;
  /** SIGKILLs the node. */
  kill(): Promise<void>;
  /** Starts the node again on the same ports and directory (it rejoins with its `nodes.conf`). */
  restart(): Promise<void>;
  /** Runs `redis-cli` against this node and returns its stdout, trimmed. */
  cli(...args: string[]): Promise<string>;
}

/** A running cluster owned by one test file. Dispose it with `await using`. */
export interface TestRedisCluster extends AsyncDisposable {
  /** Every node, masters first as created (roles change after a failover: see `masters()`). */
  nodes: TestClusterNode[];
  /** The seed URLs to give a client (`connectRedis(cluster.target)`). */
  target: { clusterNodes: string[] };
  /** The live masters, as a live node sees them now. */
  masters(): Promise<TestClusterNode[]>;
  /** The live master serving `key`. */
  masterOf(key: string): Promise<TestClusterNode>;
  /** `CLUSTER KEYSLOT <key>` on a live node. */
  keySlot(key: string): Promise<number>;
  /** Runs one command on every live master; their replies in `masters()` order. */
  onMasters(...args: string[]): Promise<string[]>;
  /** The number of keys of the cluster (DBSIZE summed over the masters). */
  dbSize(): Promise<number>;
  /**
   * Waits until every live node reports `cluster_state:ok` and agrees on which nodes are
   * masters, and every replica has caught up with its master's replication offset.
   *
   * @throws {Error} If that does not happen within `timeoutMs`.
   */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every node and removes their directories. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startRedisCluster}. */
export interface StartRedisClusterOptions {
  /** Number of masters (at least 3, as Redis requires). @default {3} */
  masters?: number;
  /** Replicas per master. @default {1} */
  replicas?: number;
  /** `cluster-node-timeout`: how long a node may not answer before it is failed over, in ms. @default {1000} */
  nodeTimeoutMs?: number;
  /** Extra `redis-server` arguments for every node. */
  args?: string[];
}

const decoder = new TextDecoder();

async function run(command: string, args: string[]): Promise<{ code: number; out: string }> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
    .output();
  return {
    code: output.code,
    out: (decoder.decode(output.stdout) + decoder.decode(output.stderr)).trim(),
  };
}

/**
 * Starts a Redis Cluster for one test file and waits until it is healthy.
 *
 * `cluster-require-full-coverage` is off, as recommended for a cache: while a failed
 * master's replica is being promoted, the other masters keep answering for their slots.
 *
 * @throws {Error} If a node does not start, `redis-cli --cluster create` fails, or the
 *   cluster is not healthy within 20 s (the logs are in the message).
 * @example
 * ```ts
 * await using cluster = await startRedisCluster();
 * const redis = await connectRedis(cluster.target);
 * ```
 */
export async function startRedisCluster(
  options: StartRedisClusterOptions = {},
): Promise<TestRedisCluster> {
  const masterCount = options.masters ?? 3;
  const replicas = options.replicas ?? 1;
  const count = masterCount * (1 + replicas);
  const nodes: (TestClusterNode & { stopped: () => boolean })[] = [];
  const taken = new Set<number>();
  for (let i = 0; i < count; i++) {
    const [port, busPort] = freeNodePorts(taken);
    const dir = await Deno.makeTempDir({ prefix: "wb-test-cluster-" });
    const cli = async (...args: string[]) =>
      (await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args])).out;
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
            "no",
            "--logfile",
            `${dir}/redis.log`,
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-port",
            String(busPort),
            "--cluster-node-timeout",
            String(options.nodeTimeoutMs ?? 1000),
            "--cluster-require-full-coverage",
            "no",
            // Replicas sync at once (the default waits 5 s for more replicas to share a transfer).
            "--repl-diskless-sync-delay",
            "0",
            ...(options.args ?? []),
          ],
          stdout: "null",
          stderr: "null",
        }),
      ping: () => cli("PING"),
      logFile: `${dir}/redis.log`,
      name: `cluster node on port ${port}`,
    });
    const start = server.start;
    const kill = server.kill;
    nodes.push({
      port,
      url: `redis://127.0.0.1:${port}`,
      dir,
      pid: server.pid,
      kill,
      restart: start,
      cli,
      stopped: () => server.pid() === undefined,
    });
  }

  const live = () => nodes.filter((n) => !n.stopped());
  const byPort = (port: number) => nodes.find((n) => n.port === port);
  /** One node's `CLUSTER NODES`: per node, its port, whether it is a live master, its slots. */
  const parseNodes = (text: string) =>
    text.split("\n").filter(Boolean).map((line) => {
      const fields = line.split(" ");
      const flags = fields[2].split(",");
      return {
        port: Number(fields[1].split("@")[0].split(":")[1]),
        master: flags.includes("master") && !flags.some((f) => f.startsWith("fail")),
        slots: fields.slice(8).filter((s) => !s.startsWith("[")),
      };
    });
  const topology = async () => {
    for (const node of live()) {
      const text = await node.cli("CLUSTER", "NODES").catch(() => "");
      if (text.includes("myself")) return parseNodes(text);
    }
    throw new Error("no live cluster node answered CLUSTER NODES");
  };
  const masters = async () =>
    (await topology()).filter((n) => n.master && n.slots.length > 0)
      .map((n) => byPort(n.port)!).filter((n) => !n.stopped());

  const stop = async () => {
    for (const node of nodes) {
      await node.kill();
      await Deno.remove(node.dir, { recursive: true }).catch(() => {});
    }
  };

  const cluster: TestRedisCluster = {
    nodes,
    target: { clusterNodes: nodes.map((n) => n.url) },
    masters,
    async masterOf(key) {
      const slot = await cluster.keySlot(key);
      for (const row of await topology()) {
        if (!row.master) continue;
        for (const range of row.slots) {
          const [from, to = from] = range.split("-").map(Number);
          if (slot >= from && slot <= to) return byPort(row.port)!;
        }
      }
      throw new Error(`no master serves slot ${slot} of '${key}'`);
    },
    async keySlot(key) {
      return Number(await live()[0].cli("CLUSTER", "KEYSLOT", key));
    },
    async onMasters(...args) {
      return await Promise.all((await masters()).map((m) => m.cli(...args)));
    },
    async dbSize() {
      return (await cluster.onMasters("DBSIZE")).reduce((sum, n) => sum + Number(n), 0);
    },
    async waitUntilHealthy(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      let last = "";
      while (Date.now() < deadline) {
        const infos = await Promise.all(live().map((n) => n.cli("CLUSTER", "INFO")));
        const views = await Promise.all(live().map((n) => n.cli("CLUSTER", "NODES")));
        const masterSets = views.map((view) =>
          parseNodes(view).filter((n) => n.master && n.slots.length > 0).map((n) => n.port)
            .sort().join(",")
        );
        const replication = await Promise.all(live().map((n) => n.cli("INFO", "replication")));
        const offsets = new Map<number, number>();
        for (const [i, info] of replication.entries()) {
          if (info.includes("role:master")) {
            offsets.set(live()[i].port, Number(/master_repl_offset:(\d+)/.exec(info)?.[1]));
          }
        }
        const replicasCaughtUp = replication.every((info) => {
          if (!info.includes("role:slave")) return true;
          const masterPort = Number(/master_port:(\d+)/.exec(info)?.[1]);
          const offset = Number(/slave_repl_offset:(\d+)/.exec(info)?.[1]);
          return info.includes("master_link_status:up") &&
            (byPort(masterPort)?.stopped() || offset >= (offsets.get(masterPort) ?? Infinity));
        });
        if (
          infos.every((i) => i.includes("cluster_state:ok")) &&
          new Set(masterSets).size === 1 && masterSets[0].split(",").length === masterCount &&
          replicasCaughtUp
        ) return;
        last = `${infos.join("\n")}\n${views[0]}`;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`the cluster was not healthy within ${timeoutMs} ms:\n${last}`);
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };

  try {
    await Promise.all(nodes.map((n) => n.restart()));
    const created = await run("redis-cli", [
      "--cluster",
      "create",
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      "--cluster-replicas",
      String(replicas),
      "--cluster-yes",
    ]);
    if (created.code !== 0) throw new Error(`redis-cli --cluster create failed:\n${created.out}`);
    await cluster.waitUntilHealthy();
    return cluster;
  } catch (error) {
    await stop();
    throw error;
  }
}
