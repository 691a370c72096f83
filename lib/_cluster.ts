/**
 * The few places where a Redis Cluster differs from one Redis node, in one file, so the
 * caches can stay written against one {@linkcode RedisClient}:
 *
 * - keyed commands (GET, SET, EVAL with same-slot `KEYS`, HSET, …) are routed by
 *   node-redis's cluster client and need nothing here;
 * - a multi-key command must name keys of one slot only (`CROSSSLOT` otherwise, even when
 *   two slots live on the same node): {@linkcode groupBySlot};
 * - SCAN, FLUSHDB, INFO and DBSIZE act on the node they are sent to: {@linkcode mastersOf}
 *   lists every master (the single node, when not a cluster) with a connection to it;
 * - a circuit breaker belongs to the node that stalled, not to the whole cluster:
 *   {@linkcode shardOf}.
 *
 * node-redis 6 can fan some of these out by itself (request policies); the caches do it
 * explicitly so that each master gets its own reply deadline and breaker, failures are
 * reported per master, and a single node and a cluster take the same code path.
 *
 * @module
 */
import { keySlot } from "./key_slot.ts";
import type { RedisClient, RedisClusterClient, RedisNodeClient } from "./redis.ts";

/** Whether `client` is node-redis's cluster client. */
export function isCluster(client: RedisClient): client is RedisClusterClient {
  return "masters" in client && "nodeClient" in client;
}

/**
 * What a circuit breaker is kept for: on a cluster, the master currently serving `key`'s
 * slot (a stalled master then skips only its own slots); otherwise the client.
 */
export function shardOf(client: RedisClient, key?: string): object {
  if (key === undefined || !isCluster(client)) return client;
  return client.slots[keySlot(key)]?.master ?? client;
}

/** One master: its address, its breaker object, and a connection to it alone. */
export interface MasterNode {
  /** `host:port`, or `"node"` for a single Redis. */
  address: string;
  /** The breaker object of this master (see {@linkcode shardOf}). */
  shard: object;
  /** The connection to this master (created on first use on a cluster). */
  connect(): Promise<RedisNodeClient>;
}

/** Every master of a cluster (as the client last saw the topology), or the one node. */
export function mastersOf(client: RedisClient): MasterNode[] {
  if (!isCluster(client)) {
    return [{ address: "node", shard: client, connect: () => Promise.resolve(client) }];
  }
  return client.masters.map((master) => ({
    address: master.address,
    shard: master,
    connect: () => client.nodeClient(master) as Promise<RedisNodeClient>,
  }));
}

/** The keys one master serves, in groups of one slot each (see {@linkcode byMaster}). */
export interface MasterKeys {
  /** The master's breaker object (see {@linkcode shardOf}). */
  shard: object;
  /** The connection to this master alone. */
  connect(): Promise<RedisNodeClient>;
  /** Its keys, one group per slot (a single node: one group of every key). */
  groups: string[][];
}

/**
 * Splits `keys` by the master serving them (as the client sees the topology now), in groups
 * of one slot each, so a multi-key command per group can go straight to that master's
 * connection: no per-command routing, and node-redis pipelines each master's commands
 * into one write. A key whose slot has no known master is left out (its caller reads it
 * through the cluster client instead). A single node gets every key in one group.
 */
export function byMaster(client: RedisClient, keys: readonly string[]): MasterKeys[] {
  if (!isCluster(client)) {
    return [{ shard: client, connect: () => Promise.resolve(client), groups: [[...keys]] }];
  }
  const masters = new Map<object, MasterKeys>();
  for (const group of groupBySlot(keys)) {
    const master = client.slots[keySlot(group[0])]?.master;
    if (!master) continue;
    let entry = masters.get(master);
    if (!entry) {
      entry = {
        shard: master,
        connect: () => client.nodeClient(master) as Promise<RedisNodeClient>,
        groups: [],
      };
      masters.set(master, entry);
    }
    entry.groups.push(group);
  }
  return [...masters.values()];
}

/** Splits `keys` into groups of one slot each, in order of first appearance. */
export function groupBySlot(keys: readonly string[]): string[][] {
  const groups = new Map<number, string[]>();
  for (const key of keys) {
    const slot = keySlot(key);
    const group = groups.get(slot);
    if (group) group.push(key);
    else groups.set(slot, [key]);
  }
  return [...groups.values()];
}

/** One reply of a `SCAN` pass (see {@linkcode scanPages}). */
export interface ScanPage {
  /** The keys of this reply (may be empty: `MATCH` filters after the node picked its keys). */
  keys: string[];
  /** Whether this was the pass's last reply (the cursor came back to 0). */
  done: boolean;
}

/**
 * Runs `SCAN` over one node to the end, yielding every reply, empty ones included, so a
 * caller that bounds the pass (keys seen, time spent) can check its bound after each
 * command and tell a pass it cut short ({@linkcode ScanPage.done} false) from one that
 * ended.
 *
 * @param node A connection to one node (a cluster master: {@linkcode mastersOf}).
 * @param options The `SCAN` options: `MATCH` pattern, `COUNT` keys per call, `TYPE`.
 * @param call Wraps each command (reply deadline, breaker).
 * @returns The replies in order; the last one has `done: true`.
 * @throws Whatever `call` rejects with (the pass stops there).
 */
export async function* scanPages(
  node: RedisNodeClient,
  options: { MATCH: string; COUNT: number; TYPE?: string },
  call: <R>(command: Promise<R>) => Promise<R>,
): AsyncGenerator<ScanPage> {
  let cursor = "0";
  do {
    const reply = await call(node.scan(cursor, options));
    cursor = String(reply.cursor);
    yield { keys: reply.keys, done: cursor === "0" };
  } while (cursor !== "0");
}

/**
 * Runs `SCAN` over one node to the end, yielding each non-empty batch of keys.
 *
 * @param call Wraps each command (reply deadline, breaker).
 */
export async function* scanNode(
  node: RedisNodeClient,
  options: { MATCH: string; COUNT: number; TYPE?: string },
  call: <R>(command: Promise<R>) => Promise<R>,
): AsyncGenerator<string[]> {
  for await (const page of scanPages(node, options, call)) {
    if (page.keys.length > 0) yield page.keys;
  }
}
