/**
 * Model-based tests of the cache core (issue 13): random sequences of `get`, `get` then
 * `setPromise` (the plan's pattern), `setPromise`, `getOrSet`, `clear`, `clearAll`, version
 * flips, producers that fail, hang or return another version, and Redis pauses, against
 * `TimCacheB` and against two `TimCacheC`s ("two processes", fleet fill policy) on one real
 * redis-server, on a database they own there (`ownsDatabase`: `clearAll` is a `FLUSHDB ASYNC`)
 * and on a real Redis Cluster. Producers settle when fast-check's scheduler
 * says (`fc.scheduler()`), so every run explores another interleaving.
 *
 * Invariants, checked against a reference model:
 * 1. no caller gets data of another version (except the producer's own caller, of its own
 *    value) or of another key;
 * 2. nothing stored at the end was computed before the last clear of its key (two processes
 *    share no clock but Redis: a bare `setPromise` starts, fleet-wide, when its fence stamp
 *    reaches Redis, so the model waits for that, one round trip on the writer's connection,
 *    before the next command; `getOrSet` and `get` run the producer only after it anyway);
 * 3. at quiescence no flight, lease or pending clear is left, and after a final clear every
 *    produced value is collectable;
 * 4. producer runs per key and version stay within the bound the model allows (one, plus
 *    one per event that legitimately forces a new run).
 *
 * `MODEL_RUNS` sets the runs per configuration (default 15; a deep run: `MODEL_RUNS=500`).
 * A failure prints fast-check's seed and path; `MODEL_SEED` replays a seed.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { connectRedis, type RedisConnection } from "./redis.ts";
import { TimCacheB } from "./tim_cache_b.ts";
import { TimCacheC } from "./tim_cache_c.ts";
import { ANY_VERSION, type HashFuncs, type TimCache } from "./types.ts";
import type { FillPolicy } from "./fill_policy.ts";
import { delay } from "./testing/deferred.ts";
import { collectable } from "./testing/memory.ts";
import { startRedis, type TestRedis } from "./testing/redis_server.ts";
import { startRedisCluster, type TestRedisCluster } from "./testing/redis_cluster.ts";
import { RedisStore } from "./redis_store.ts";

const RUNS = Number(Deno.env.get("MODEL_RUNS") ?? 15);
const SEED = Deno.env.get("MODEL_SEED");
const KEYS = ["k0", "k1"] as const;
const TIMEOUT_MS = 150;
const LEASE_MS = 100;
const POLICY: FillPolicy = { leaseMs: 300, maxWaitMs: 1000, pollMinMs: 2, pollMaxMs: 20 };

/** A produced value: which run made it, for which key and version, after which clears. */
interface Value {
  id: string;
  rev: number;
  run: number;
  /** The model's clear epoch of `id` when the run's producer started. */
  epoch: number;
}

const funcs: HashFuncs<string, number, Value> = {
  uniquenessHashFromParams: (id) => id,
  versionHashFromParams: (rev) => `v${rev}`,
  parseData: (d) => ({ shouldStore: true, uniquenessHash: d.id, versionHash: `v${d.rev}` }),
};

type Mode = "ok" | "fail" | "hang" | "wrong";

/** The reference model: what has happened, and what may happen because of it. */
class Model {
  version: Record<string, number> = { k0: 1, k1: 1 };
  /** Clears of each key so far (a clearAll counts for every key). */
  epoch: Record<string, number> = { k0: 0, k1: 0 };
  runs = new Map<string, number>();
  /** Events that justify another producer run of a key and version. */
  justified = new Map<string, number>();
  clears = 0;
  pauses = 0;
  nextRun = 0;
  produced: WeakRef<object>[] = [];

  ran(key: string, rev: number): void {
    this.runs.set(`${key}@${rev}`, (this.runs.get(`${key}@${rev}`) ?? 0) + 1);
  }
  justify(key: string, rev: number): void {
    this.justified.set(`${key}@${rev}`, (this.justified.get(`${key}@${rev}`) ?? 0) + 1);
  }
}

/** The system under test: the caches, the operations started, the problems seen. */
interface Real {
  s: fc.Scheduler;
  caches: TimCache<string, number, Value>[];
  pending: Promise<unknown>[];
  problems: string[];
  pause?: (ms: number) => Promise<void>;
  /** Resolves once every command cache `index` has sent so far reached Redis. */
  sync?: (index: number) => Promise<void>;
}

/** A producer for `key` at `rev` in `mode`; `own` collects the runs it made. */
function producer(m: Model, r: Real, key: string, rev: number, mode: Mode, own: Set<number>) {
  return (): Promise<Value> => {
    const run = m.nextRun++;
    own.add(run);
    m.ran(key, rev);
    if (mode !== "ok") m.justify(key, rev); // a failed, hung or unusable run forces another
    const value: Value = {
      id: key,
      rev: mode === "wrong" ? rev + 100 : rev,
      run,
      epoch: m.epoch[key],
    };
    m.produced.push(new WeakRef(value));
    if (mode === "hang") return new Promise<Value>(() => {});
    // The scheduler decides when the run ends. It keeps what it schedules (for its report),
    // so it is given nothing: the value stays collectable.
    const settled = r.s.schedule(Promise.resolve(), `run ${run} (${key}@v${rev}, ${mode})`);
    return settled.then(() => {
      if (mode === "fail") throw new Error(`run ${run} failed`);
      return value;
    });
  };
}

/** Checks what one caller got: its key, its version (or its own producer's value). */
function checkValue(
  r: Real,
  what: string,
  key: string,
  rev: number,
  value: Value | undefined,
  own: Set<number>,
) {
  if (value === undefined) return;
  if (value.id !== key) r.problems.push(`${what}: got key ${value.id}`);
  if (value.rev !== rev && !own.has(value.run)) {
    r.problems.push(`${what}: got version ${value.rev} (run ${value.run}), asked ${rev}`);
  }
}

const EXPECTED_ERRORS = /failed|PRODUCER_TIMEOUT|longer than its producer timeout|another process/;

function checkError(r: Real, what: string, error: unknown) {
  const text = `${(error as { code?: string })?.code ?? ""} ${(error as Error)?.message ?? error}`;
  if (!EXPECTED_ERRORS.test(text)) r.problems.push(`${what}: unexpected error ${text}`);
}

const track = (r: Real, operation: Promise<unknown>) => void r.pending.push(operation);

class GetOrSet implements fc.AsyncCommand<Model, Real> {
  constructor(readonly at: number, readonly key: string, readonly mode: Mode) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const cache = r.caches[this.at % r.caches.length];
    const rev = m.version[this.key];
    const own = new Set<number>();
    const what = `${this}@v${rev}`;
    track(
      r,
      cache.getOrSet(this.key, rev, producer(m, r, this.key, rev, this.mode, own)).then(
        (result) => checkValue(r, what, this.key, rev, result.value, own),
        (error) => checkError(r, what, error),
      ),
    );
    await Promise.resolve();
  }
  toString = () => `getOrSet(#${this.at}, ${this.key}, ${this.mode})`;
}

class GetThenSet implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly at: number,
    readonly key: string,
    readonly any: boolean,
    readonly follow: boolean,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const cache = r.caches[this.at % r.caches.length];
    const rev = m.version[this.key];
    const what = `${this}@v${rev}`;
    track(
      r,
      (async () => {
        const got = await cache.get(this.key, this.any ? ANY_VERSION : rev);
        if (!this.any) checkValue(r, what, this.key, rev, got, new Set());
        else if (got && got.id !== this.key) r.problems.push(`${what}: got key ${got.id}`);
        if (got !== undefined || !this.follow) return;
        const own = new Set<number>();
        m.justify(this.key, rev); // the plan's pattern: the caller computes, then sets
        const value = await cache.setPromise(
          producer(m, r, this.key, rev, "ok", own)(),
          this.key,
          rev,
        );
        checkValue(r, what, this.key, rev, value, own);
      })().catch((error) => checkError(r, what, error)),
    );
    await Promise.resolve();
  }
  toString = () =>
    `get(#${this.at}, ${this.key}${this.any ? ", any" : ""}${
      this.follow ? ", then setPromise" : ""
    })`;
}

class SetPromise implements fc.AsyncCommand<Model, Real> {
  constructor(readonly at: number, readonly key: string, readonly mode: Mode) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const cache = r.caches[this.at % r.caches.length];
    const rev = m.version[this.key];
    const own = new Set<number>();
    m.justify(this.key, rev);
    const what = `${this}@v${rev}`;
    track(
      r,
      cache.setPromise(producer(m, r, this.key, rev, this.mode, own)(), this.key, rev).then(
        (value) => checkValue(r, what, this.key, rev, value, own),
        (error) => checkError(r, what, error),
      ),
    );
    // Its fence stamp reaches Redis before any later command of the other "process".
    await r.sync?.(this.at % r.caches.length);
    await Promise.resolve();
  }
  toString = () => `setPromise(#${this.at}, ${this.key}, ${this.mode})`;
}

class Clear implements fc.AsyncCommand<Model, Real> {
  constructor(readonly at: number, readonly key: string | undefined) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const cache = r.caches[this.at % r.caches.length];
    for (const key of KEYS) {
      if (this.key !== undefined && key !== this.key) continue;
      m.epoch[key]++;
    }
    m.clears++;
    track(r, this.key === undefined ? cache.clearAll() : cache.clear(this.key));
    await Promise.resolve();
  }
  toString =
    () => (this.key === undefined ? `clearAll(#${this.at})` : `clear(#${this.at}, ${this.key})`);
}

class Flip implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: string) {}
  check = () => true;
  async run(m: Model) {
    m.version[this.key]++;
    await Promise.resolve();
  }
  toString = () => `flip(${this.key})`;
}

class Pause implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check = (_m: Readonly<Model>) => true;
  async run(m: Model, r: Real) {
    if (!r.pause) return;
    m.pauses++;
    await r.pause(this.ms);
  }
  toString = () => `pauseRedis(${this.ms} ms)`;
}

function commands(withRedis: boolean) {
  const at = fc.nat(1);
  const key = fc.constantFrom(...KEYS);
  const mode = fc.constantFrom<Mode>("ok", "ok", "ok", "fail", "hang", "wrong");
  return fc.commands([
    fc.tuple(at, key, mode).map(([a, k, md]) => new GetOrSet(a, k, md)),
    fc.tuple(at, key, mode).map(([a, k, md]) => new GetOrSet(a, k, md)),
    fc.tuple(at, key, fc.boolean(), fc.boolean()).map(([a, k, any, f]) =>
      new GetThenSet(a, k, any, f)
    ),
    fc.tuple(at, key, mode).map(([a, k, md]) => new SetPromise(a, k, md)),
    fc.tuple(at, fc.option(key, { nil: undefined })).map(([a, k]) => new Clear(a, k)),
    key.map((k) => new Flip(k)),
    ...(withRedis ? [fc.integer({ min: 20, max: 80 }).map((ms) => new Pause(ms))] : []),
  ], { maxCommands: 25 });
}

/** Releases scheduled producers until every operation started has settled. */
async function drain(r: Real): Promise<void> {
  for (let seen = -1; seen !== r.pending.length;) {
    seen = r.pending.length;
    let settled = false;
    Promise.allSettled(r.pending.slice()).then(() => (settled = true));
    while (!settled) {
      if (r.s.count() > 0) await r.s.waitOne();
      else await delay(2); // real Redis I/O, or a timeout, in progress
    }
  }
}

interface Fixture {
  name: string;
  /** Fresh caches for one run (a fresh prefix on Redis). */
  caches(): TimCache<string, number, Value>[];
  /** A reader of what is stored for a key, outside every cache under test. */
  stored(caches: TimCache<string, number, Value>[], key: string): Promise<Value | undefined>;
  pause?: (ms: number) => Promise<void>;
  /** See {@linkcode Real.sync}. */
  sync?: (index: number) => Promise<void>;
}

function modelTest(fixture: Fixture) {
  Deno.test({
    name: `model: ${fixture.name}: random operations keep the core's invariants`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const withRedis = fixture.pause !== undefined;
      await fc.assert(
        fc.asyncProperty(fc.scheduler(), commands(withRedis), async (s, cmds) => {
          const m = new Model();
          const r: Real = {
            s,
            caches: fixture.caches(),
            pending: [],
            problems: [],
            pause: fixture.pause,
            sync: fixture.sync,
          };
          await fc.scheduledModelRun(s, () => ({ model: m, real: r }), cmds);
          await drain(r);
          // Hung fills end at their hard timeout, leases at their expiry; pending clears land.
          await delay(Math.max(TIMEOUT_MS, LEASE_MS) + 20);
          for (let i = 0; i < 200 && r.caches.some(busy); i++) await delay(10);
          for (const [i, cache] of r.caches.entries()) {
            const c = cache as unknown as Internals;
            assert.equal(c.inFlightCount, 0, `cache #${i}: flights left`);
            assert.equal(c.inFlightKeys, 0, `cache #${i}: joinable keys left`);
            assert.deepEqual(c.pendingClears ?? { keys: 0, all: false }, { keys: 0, all: false });
          }
          assert.deepEqual(r.problems, []);
          for (const key of KEYS) {
            // Only numbers come back: a suspended async frame can keep a local object alive.
            const stored = await storedRun(fixture, r.caches, key);
            if (stored) {
              assert.equal(
                stored.epoch,
                m.epoch[key],
                `${key}: stored run ${stored.run} started before the last clear`,
              );
            }
          }
          for (const [versioned, runs] of m.runs) {
            const bound = (1 + m.clears + m.pauses + (m.justified.get(versioned) ?? 0)) *
              r.caches.length;
            assert.ok(runs <= bound, `${versioned}: ${runs} producer runs, bound ${bound}`);
          }
          for (const cache of r.caches) await cache.clearAll();
          const reclaimed = await collectable(m.produced);
          const left = m.produced.map((ref) => (ref.deref() as Value | undefined)?.run)
            .filter((run) => run !== undefined);
          assert.equal(reclaimed, m.produced.length, `values of runs ${left} still reachable`);
        }),
        { numRuns: RUNS, ...(SEED ? { seed: Number(SEED) } : {}), endOnFailure: true },
      );
    },
  });
}

async function storedRun(
  fixture: Fixture,
  caches: TimCache<string, number, Value>[],
  key: string,
): Promise<{ run: number; epoch: number } | undefined> {
  const stored = await fixture.stored(caches, key);
  return stored && { run: stored.run, epoch: stored.epoch };
}

interface Internals {
  inFlightCount: number;
  inFlightKeys: number;
  pendingClears?: { keys: number; all: boolean };
}

function busy(cache: TimCache<string, number, Value>): boolean {
  const c = cache as unknown as Internals;
  return c.inFlightCount > 0 || (c.pendingClears?.keys ?? 0) > 0 || !!c.pendingClears?.all;
}

modelTest({
  name: "TimCacheB",
  caches: () => [
    new TimCacheB<string, number, Value>(funcs, {
      missLeaseMs: LEASE_MS,
      producerTimeoutMs: TIMEOUT_MS,
    }),
  ],
  stored: (caches, key) => caches[0].get(key, ANY_VERSION),
});

let prefixes = 0;

/**
 * Two `TimCacheC`s on Redis, and a reader. With `ownsDatabase` the caches own the database
 * their connections select, and every run uses one prefix (a database's owner is one cache:
 * another name would make every clear after the first refuse to flush); each run ends with
 * a `clearAll`, which empties the database for the next.
 */
function redisFixture(
  name: string,
  connect: () => Promise<{ connections: RedisConnection[]; pause: (ms: number) => Promise<void> }>,
  { ownsDatabase = false } = {},
): Fixture & { open(): Promise<void>; close(): Promise<void> } {
  let connections: RedisConnection[] = [];
  let prefix = "";
  const make = (conn: RedisConnection, l1: boolean) =>
    new TimCacheC<string, number, Value>(prefix, funcs, {
      store: RedisStore.over(() => conn.ready()),
      ownsDatabase,
      l1: l1 ? conn.l1 ?? false : false,
      log: () => {},
      fill: POLICY,
      missLeaseMs: LEASE_MS,
      producerTimeoutMs: TIMEOUT_MS,
      commandTimeoutMs: 60,
      breakerMs: 30,
    });
  const fixture = {
    name,
    pause: (ms: number) => fixture.pauseImpl(ms),
    // FIFO per connection: PING's reply comes after everything sent before it (bounded, so
    // a stalled connection does not hang the run).
    sync: async (index: number) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.resolve(connections[index].ready()?.ping()).then(() => {}, () => {}),
        new Promise<void>((resolve) => timer = setTimeout(resolve, 500)),
      ]);
      clearTimeout(timer);
    },
    pauseImpl: (_ms: number) => Promise.resolve(),
    caches: () => {
      prefix = ownsDatabase ? "model_own" : `model${prefixes++}`;
      return [make(connections[0], true), make(connections[1], true)];
    },
    stored: async (_caches: unknown, key: string) =>
      await make(connections[2], false).get(key, ANY_VERSION),
    async open() {
      const opened = await connect();
      connections = opened.connections;
      fixture.pauseImpl = opened.pause;
    },
    async close() {
      for (const conn of connections) await conn.close();
    },
  };
  return fixture;
}

let single: TestRedis | undefined;
const onNode = redisFixture("two TimCacheCs on one Redis node", async () => {
  single = await startRedis();
  const url = single.url;
  return {
    connections: await Promise.all([0, 1, 2].map(() => connectRedis(url, { log: () => {} }))),
    pause: async (ms) => void await single!.cli("CLIENT", "PAUSE", String(ms), "WRITE"),
  };
});
Deno.test({ name: "model: start a Redis node", fn: () => onNode.open() });
modelTest(onNode);

const onOwnDatabase = redisFixture(
  "two TimCacheCs owning database 1 of one Redis node",
  async () => ({
    connections: await Promise.all(
      [0, 1, 2].map(() => connectRedis(`${single!.url}/1`, { log: () => {} })),
    ),
    pause: async (ms) => void await single!.cli("CLIENT", "PAUSE", String(ms), "WRITE"),
  }),
  { ownsDatabase: true },
);
Deno.test({ name: "model: connect to database 1", fn: () => onOwnDatabase.open() });
modelTest(onOwnDatabase);

let cluster: TestRedisCluster | undefined;
const onCluster = redisFixture("two TimCacheCs on a Redis Cluster", async () => {
  cluster = await startRedisCluster();
  const target = cluster.target;
  return {
    connections: await Promise.all(
      [0, 1, 2].map(() => connectRedis(target, { log: () => {} })),
    ),
    pause: async (ms) => void await cluster!.onMasters("CLIENT", "PAUSE", String(ms), "WRITE"),
  };
});
Deno.test({ name: "model: start a Redis Cluster", fn: () => onCluster.open() });
modelTest(onCluster);

Deno.test({
  name: "model teardown",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await onNode.close();
    await onOwnDatabase.close();
    await onCluster.close();
    await single?.stop();
    await cluster?.stop();
  },
});
