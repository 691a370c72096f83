/**
 * Deadlines and a circuit breaker for Redis calls.
 *
 * node-redis's `commandOptions.timeout` only bounds the time before a command is written;
 * once written, a paused or stalled Redis can keep the caller waiting forever. Every cache
 * call therefore races its reply against a deadline. A call that times out opens the
 * breaker for `breakerMs`: calls during that time skip Redis at once instead of queueing
 * more commands behind the stalled ones (the circuit-breaker pattern BentoCache uses).
 *
 * The breaker is kept per object: the client for one Redis node, the master serving the
 * key's slot on a Redis Cluster (`shardOf` in `_cluster.ts`), so one stalled master makes
 * only its own slots skip Redis.
 *
 * {@linkcode RedisGuard} puts both, with the report of a failure and the fallback, around
 * every Redis call of lib. The state (breakers, the deadline ticker) belongs to the
 * `RedisStore` the guard was made by: two stores in one process share nothing.
 *
 * @module
 */
import { shardOf } from "./_cluster.ts";
import type { RedisClient } from "./redis.ts";

/** Thrown when Redis did not reply within the deadline. */
export class RedisTimeoutError extends Error {
  /** Stable error code. */
  readonly code = "REDIS_TIMEOUT";
  /** The deadline that passed, in ms. */
  readonly timeoutMs: number;

  /** An error for a call that got no reply within `timeoutMs`. */
  constructor(timeoutMs: number) {
    super(`Redis did not reply within ${timeoutMs} ms`);
    this.name = "RedisTimeoutError";
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The state behind the guards of one `RedisStore`: the breaker of each node (the client of
 * one Redis node, or a cluster master) and the deadlines of the calls in flight.
 *
 * Deadlines are checked by one coarse ticker (every {@linkcode TICK_MS} while any call is
 * pending) rather than a timer per call: a timer per call cost about a quarter of a cache
 * hit's throughput (docs/performance.md). No clock is read per call either (a clock read
 * costs up to a microsecond on a VM): a call's time starts at the first tick after it was
 * sent, so its deadline fires between `timeoutMs` and `timeoutMs + 2 * TICK_MS` after it
 * was sent, never before. The ticker stops itself on a tick that finds nothing pending
 * (starting and stopping an interval around each call cost a fifth of a single caller's
 * hit).
 */
export class GuardState {
  readonly #openUntil = new WeakMap<object, number>();
  readonly #pending = new Set<Pending>();
  #ticker: ReturnType<typeof setInterval> | undefined;

  /** Whether calls to `shard` (a client or a cluster master) may be made now (its breaker is closed). */
  breakerClosed(shard: object): boolean {
    const until = this.#openUntil.get(shard);
    return until === undefined || until <= Date.now();
  }

  /**
   * Runs one Redis call on `shard` with a reply deadline of `timeoutMs`; a timeout opens
   * the shard's breaker for `breakerMs`.
   *
   * @throws {RedisTimeoutError} If no reply came within `timeoutMs`.
   * @throws Whatever the call itself throws.
   */
  withDeadline<T>(
    shard: object,
    timeoutMs: number,
    breakerMs: number,
    call: Promise<T>,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry = new Pending(shard, timeoutMs, breakerMs, reject);
      this.#pending.add(entry);
      this.#ticker ??= setInterval(() => this.#tick(), TICK_MS);
      call.then(
        (value) => this.#pending.delete(entry) && resolve(value),
        (error) => this.#pending.delete(entry) && reject(error),
      );
    });
  }

  /** Starts the clock of new calls, expires the calls past their deadline, stops when idle. */
  #tick(): void {
    if (this.#pending.size === 0) {
      clearInterval(this.#ticker);
      this.#ticker = undefined;
      return;
    }
    const now = performance.now();
    for (const waiting of this.#pending) {
      if (waiting.since === undefined) waiting.since = now;
      else if (now - waiting.since >= waiting.timeoutMs) {
        this.#pending.delete(waiting);
        this.#openUntil.set(waiting.shard, Date.now() + waiting.breakerMs);
        waiting.reject(new RedisTimeoutError(waiting.timeoutMs));
      }
    }
  }
}

/** How often pending deadlines are checked, in ms. */
const TICK_MS = 10;

/** A call waiting for its reply. */
class Pending {
  /** `performance.now()` at the first tick after the call was sent. */
  since: number | undefined = undefined;

  constructor(
    readonly shard: object,
    readonly timeoutMs: number,
    readonly breakerMs: number,
    readonly reject: (error: unknown) => void,
  ) {}
}

/** One command with the reply deadline of the node it was bound to. */
export type ShardCall = <R>(command: Promise<R>) => Promise<R>;

/** Options of a guard (`RedisStore.guard`): the same fields as the owners' options. */
export interface RedisGuardOptions {
  /** Reply deadline of each call, in ms. @default {the store's `commandTimeoutMs`} */
  commandTimeoutMs?: number;
  /** After a timed-out call, skip the node that timed out for this long, in ms. @default {1000} */
  breakerMs?: number;
}

/** How one guarded call falls back (see {@linkcode RedisGuard.attempt}). */
export interface GuardedCall<F> {
  /** Names the call in reports; `null`: a failure is expected and goes unreported. */
  op: string | null;
  /** What the call resolves when Redis was skipped (no client, or the node's breaker open). */
  skipped: F;
  /** What it resolves when the call failed, after the report. @default {() => skipped} */
  failed?: (error: unknown) => F;
  /** Skip the node while its breaker is open. @default {true} */
  checkBreaker?: boolean;
}

/**
 * The one guard around lib's Redis calls: is there a client, is the breaker of the node
 * that serves the key closed, the reply deadline, the report of a failure, the fallback.
 * Each owner (a cache, the memo, the bus, a seen set, the flush) builds one with its own
 * deadline, breaker time and report, and sends every Redis call through it
 * (BentoCache's `RemoteCache.#tryCacheOperation` is the model).
 */
export class RedisGuard {
  readonly #redis: () => RedisClient | undefined;
  readonly #state: GuardState;
  readonly #timeoutMs: number;
  readonly #breakerMs: number;
  readonly #report: ((op: string, error: unknown) => void) | undefined;
  #lastShard: object | undefined;
  #lastCall: ShardCall | undefined;

  /**
   * A guard for the client `redis` returns; built by `RedisStore.guard`, which passes its
   * own state (breakers, deadlines) and reply deadline.
   *
   * @param report Receives each failed call (`op` names it); a skipped call is not reported.
   */
  constructor(
    redis: () => RedisClient | undefined,
    state: GuardState,
    options: { commandTimeoutMs: number; breakerMs?: number },
    report?: (op: string, error: unknown) => void,
  ) {
    this.#redis = redis;
    this.#state = state;
    this.#timeoutMs = options.commandTimeoutMs;
    this.#breakerMs = options.breakerMs ?? 1000;
    this.#report = report;
  }

  /** The client now (connected or not), or `undefined` when Redis is unavailable. */
  get redis(): RedisClient | undefined {
    return this.#redis();
  }

  /**
   * The client when Redis is usable now for `key` (the breaker of the node serving `key`
   * closed), else `undefined`.
   */
  client(key: string): RedisClient | undefined {
    const client = this.#redis();
    return client && this.#state.breakerClosed(shardOf(client, key)) ? client : undefined;
  }

  /** Whether calls to `shard` (a client or a cluster master) may be made now (its breaker is closed). */
  breakerClosed(shard: object): boolean {
    return this.#state.breakerClosed(shard);
  }

  /** Runs one command for `key` with the reply deadline (a timeout opens its node's breaker). */
  call = <R>(key: string, command: Promise<R>): Promise<R> => {
    const client = this.#redis();
    return this.on(client ? shardOf(client, key) : this, command);
  };

  /** Runs one command on `shard` (a client or a cluster master) with the reply deadline. */
  on<R>(shard: object, command: Promise<R>): Promise<R> {
    return this.#state.withDeadline(shard, this.#timeoutMs, this.#breakerMs, command);
  }

  /**
   * The guarded call for `key`: resolves `how.skipped` at once when there is no client or
   * the breaker of the node serving `key` is open; else runs `run` (whose `call` puts the
   * deadline of that node on each command) and resolves its result, or, when it throws,
   * reports the error as `how.op` and resolves `how.failed(error)`. Never rejects (unless
   * the report or `how.failed` throws).
   */
  attempt<R, F>(
    key: string,
    how: GuardedCall<F>,
    run: (client: RedisClient, call: ShardCall) => Promise<R>,
  ): Promise<R | F> {
    // Written for the hit path: no async frame and no closure beyond the `.catch`.
    const client = this.#redis();
    const call = client && this.#open(shardOf(client, key), how);
    if (!call) return Promise.resolve(how.skipped);
    try {
      return run(client, call).catch((error: unknown) => this.#failed(how, error));
    } catch (error) {
      return new Promise((resolve) => resolve(this.#failed(how, error)));
    }
  }

  /**
   * The guarded call on one node, `shard` (a client, or a cluster master from `mastersOf`),
   * with the fallbacks of {@linkcode RedisGuard.attempt}.
   */
  attemptOn<R, F>(
    shard: object,
    how: GuardedCall<F>,
    run: (call: ShardCall) => Promise<R>,
  ): Promise<R | F> {
    const call = this.#open(shard, how);
    if (!call) return Promise.resolve(how.skipped);
    try {
      return run(call).catch((error: unknown) => this.#failed(how, error));
    } catch (error) {
      return new Promise((resolve) => resolve(this.#failed(how, error)));
    }
  }

  /** The deadline-bound call on `shard`, or `undefined` when its breaker skips it. */
  #open(shard: object, how: GuardedCall<unknown>): ShardCall | undefined {
    if (how.checkBreaker !== false && !this.#state.breakerClosed(shard)) return undefined;
    // One node: the same shard every time, so the bound call is made once.
    if (shard !== this.#lastShard) {
      this.#lastShard = shard;
      this.#lastCall = (command) => this.on(shard, command);
    }
    return this.#lastCall;
  }

  /** Reports a failed call and resolves its fallback. */
  #failed<F>(how: GuardedCall<F>, error: unknown): F {
    if (how.op !== null) this.#report?.(how.op, error);
    return how.failed ? how.failed(error) : how.skipped;
  }
}
