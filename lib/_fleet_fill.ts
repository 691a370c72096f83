/**
 * Fleet-wide single flight: one producer run per key and version for every process on one
 * Redis, with the fill lock of `fill_lock.ts`.
 *
 * 1. `SET NX PX` on the lock of the key and version: the winner is the **leader**. It
 *    re-reads the data key (another leader may have just written it), runs the producer
 *    while extending its lease every heartbeat, writes with the fenced script and releases
 *    the lock with compare-and-delete.
 * 2. The others are **followers**: they poll the data key (with the lock's value and lease,
 *    in one round trip) with jittered backoff from `pollMinMs` to `pollMaxMs`. A value of
 *    the wanted version is a `follower_hit`. While the leader proves it is alive (its lease
 *    grows between polls), they keep waiting, up to `maxWaitMs` for one leader. Exactly one
 *    follower takes over a leader that stopped extending for the liveness window (`dead`,
 *    about 2.5 s) or that passed the cap (`cap`); the others follow the new leader.
 *    With `waitMs` set, a follower of a live leader computes for itself after `waitMs`,
 *    without writing (`follower_timeout`).
 * 3. A leader that ends without writing says why in the lock: its producer threw (its
 *    followers fail with a {@linkcode CacheFillError}: one run, one error) or its value may
 *    not be stored (they compute for themselves, at once and in parallel).
 * 4. A Redis error before the producer runs degrades to this process's own fill
 *    (`lock_error`). The producer never runs twice for one caller: its error propagates.
 *
 * @module
 */
import { jitteredBackoffMs } from "./backoff.ts";
import { CacheFillError } from "./errors.ts";
import type { Entry } from "./_codec.ts";
import type { Fence } from "./_fence.ts";
import { FillLock, type LockClient, parseLockValue } from "./fill_lock.ts";
import {
  DEFAULT_MAX_WAIT_MS,
  type FillPolicy,
  heartbeatMs,
  livenessWindowMs,
} from "./fill_policy.ts";
import type { FillResult, MissContext } from "./_store_contract.ts";

/** What a leader's write did (`error`: Redis refused it or did not answer). */
export type LeaderWrite = "written" | "fenced" | "not_owner" | "error";

/** Why a follower took the fill over: nobody held it, its leader died, or passed the cap. */
export type TakeoverReason = "free" | "dead" | "cap";

/** What {@linkcode fleetFill} needs from its cache. */
export interface FleetFill<T> {
  /** The cache's name (errors, logs). */
  cache: string;
  policy: FillPolicy;
  client: LockClient;
  /** Wraps a command for the data key's node (reply deadline, breaker). */
  call: <R>(command: Promise<R>) => Promise<R>;
  dataKey: string;
  miss: MissContext<T>;
  /** A stored entry, if it is one of ours and belongs under this key. */
  decode(raw: string): Entry<T> | undefined;
  /** Encodes and writes the leader's value, fenced by the lock and `fence`. */
  write(lock: FillLock, value: T, fence: Fence): Promise<LeaderWrite | "too_large" | "unencodable">;
  /** This process fills alone (the lock path failed before any producer ran). */
  localFill(): Promise<FillResult<T>>;
  /** One `cache_fill` line: the outcome and its fields. */
  log(outcome: string, fields: FillLogFields): void;
}

/** The fields of a `cache_fill` log line (durations in ms). */
export interface FillLogFields {
  /** Time before this process's producer started (waiting for a leader included). */
  waitedMs: number;
  /** Time in this process's producer (0 when it did not run). */
  computeMs: number;
  /** Why this process took the fill over, if it did. */
  tookOver?: TakeoverReason;
  /** How long it had followed the leader it took over from. */
  followedMs?: number;
  failed?: true;
  /** A leader's write that did not happen: why. */
  notWritten?: string;
}

/**
 * Fills `miss` across the fleet (see the module docs).
 *
 * @throws Whatever the producer throws (here or, as {@linkcode CacheFillError}, in the
 *   leader followed); an `Error` when the fill was abandoned (nobody waits for it).
 */
export async function fleetFill<T>(fill: FleetFill<T>): Promise<FillResult<T>> {
  const started = performance.now();
  let lock: FillLock;
  try {
    lock = new FillLock(
      fill.client,
      fill.call,
      fill.dataKey,
      fill.miss.versionHash,
      fill.policy.leaseMs,
    );
  } catch {
    return await fill.localFill(); // no same-slot lock key for this data key
  }
  // Only Redis errors of the lock itself degrade to a local fill: `lead` is called outside
  // the `try`, so its producer's error propagates (it never runs the producer twice).
  const acquired = await tryRedis(() => lock.tryAcquire());
  if (acquired === undefined) {
    // The SET NX may still run once Redis answers again (a paused Redis queues it), and
    // would then hold the lock with nobody behind it: queue a token-checked release.
    lock.release().catch(() => {});
    return await fill.localFill();
  }
  if (acquired) return await lead(fill, lock, started, {});
  return await follow(fill, lock, started);
}

async function follow<T>(fill: FleetFill<T>, lock: FillLock, started: number) {
  const { policy, miss } = fill;
  const maxWaitMs = policy.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  const windowMs = livenessWindowMs(policy);
  // The leader we follow: its lock value, since when, when it last showed it is alive (first
  // seen, or its lease grew: it extends every heartbeat).
  let leader: string | undefined;
  let followedSince = started;
  let lastLeaseLeftMs = Infinity;
  let lastAliveAt = -Infinity;
  for (let attempt = 0;; attempt++) {
    await sleep(pollDelayMs(policy, attempt));
    if (miss.signal.aborted) throw new Error(`fill of '${fill.cache}' abandoned`);
    const poll = await tryRedis(() => lock.poll());
    if (poll === undefined) return await fill.localFill();
    const entry = poll.data === null ? undefined : fill.decode(poll.data);
    if (entry && entry.versionHash === miss.versionHash) {
      miss.publish(entry.data);
      fill.log("follower_hit", { waitedMs: performance.now() - started, computeMs: 0 });
      return { value: entry.data, outcome: "hit" as const };
    }
    const state = parseLockValue(poll.lock);
    const ours = leader !== undefined && state.kind !== "free" &&
      state.token === (parseLockValue(leader) as { token: string }).token;
    if (ours && state.kind === "failed") {
      fill.log("follower_failed", { waitedMs: performance.now() - started, computeMs: 0 });
      throw new CacheFillError(fill.cache, state.message);
    }
    if (ours && state.kind === "unstored") {
      return await computeUnshared(fill, started, "follower_unstored");
    }
    const now = performance.now();
    let reason: TakeoverReason | undefined;
    if (state.kind !== "held") {
      reason = "free"; // nobody is filling (a leader ended without a value we can use)
    } else {
      if (poll.lock !== leader) {
        leader = poll.lock!;
        followedSince = now;
        lastAliveAt = now;
      } else if (poll.leaseLeftMs > lastLeaseLeftMs) {
        lastAliveAt = now;
      }
      lastLeaseLeftMs = poll.leaseLeftMs;
      const alive = now - lastAliveAt < windowMs;
      if (alive && policy.waitMs !== undefined && now - started >= policy.waitMs) {
        return await computeUnshared(fill, started, "follower_timeout");
      }
      if (alive && now - followedSince < maxWaitMs) continue;
      reason = alive ? "cap" : "dead";
    }
    const took = await tryRedis(() => lock.takeOver(poll.lock));
    if (took === undefined) return await fill.localFill();
    if (took) {
      return await lead(fill, lock, started, {
        tookOver: reason,
        ...(reason === "free" ? {} : { followedMs: round1(now - followedSince) }),
      });
    }
    // Another follower won the takeover: follow it (a fresh wait for the new leader).
  }
}

/** The leader's part: recheck, produce under a kept-alive lease, fenced write, release. */
async function lead<T>(
  fill: FleetFill<T>,
  lock: FillLock,
  started: number,
  extra: Pick<FillLogFields, "tookOver" | "followedMs">,
): Promise<FillResult<T>> {
  const { miss, policy } = fill;
  const read = await tryRedis(() =>
    Promise.all([lock.readData(), miss.fence as Promise<Fence | undefined>])
  );
  if (read === undefined) {
    lock.release().catch(() => {});
    return await fill.localFill();
  }
  const [raw, fence] = read;
  const entry = raw === null ? undefined : fill.decode(raw);
  if (entry && entry.versionHash === miss.versionHash) {
    lock.release().catch(() => {});
    miss.publish(entry.data);
    fill.log("recheck_hit", { waitedMs: performance.now() - started, computeMs: 0, ...extra });
    return { value: entry.data, outcome: "hit" };
  }
  const markerMs = Math.max(3 * policy.pollMaxMs, 100);
  const waitedMs = performance.now() - started;
  let leaseLost = false;
  const heartbeat = setInterval(() => {
    lock.extend().then((held) => leaseLost ||= !held, () => {});
  }, heartbeatMs(policy));
  // Abandoned (the hard timeout): stop holding the lock, and tell the followers.
  const abandon = () => {
    clearInterval(heartbeat);
    lock.fail(`CacheTimeoutError: the leader gave up`, markerMs).catch(() => {});
  };
  miss.signal.addEventListener("abort", abandon, { once: true });
  const computeStarted = performance.now();
  let value: T;
  try {
    value = await miss.produce();
  } catch (error) {
    clearInterval(heartbeat);
    miss.signal.removeEventListener("abort", abandon);
    const message = `${(error as Error)?.name ?? "Error"}: ${(error as Error)?.message ?? error}`;
    await lock.fail(message, markerMs).catch(() => {});
    fill.log("leader", {
      waitedMs,
      computeMs: performance.now() - computeStarted,
      ...extra,
      failed: true,
    });
    throw error; // once: the producer is never run again for this fill
  } finally {
    clearInterval(heartbeat);
  }
  miss.signal.removeEventListener("abort", abandon);
  const computeMs = performance.now() - computeStarted;
  miss.publish(value);
  const written = miss.storable(value) && fence !== undefined
    ? await fill.write(lock, value, fence)
    : "unstorable";
  if (written === "written" || written === "fenced") await lock.release().catch(() => {});
  else if (written !== "not_owner") await lock.markUnstored(markerMs).catch(() => {});
  leaseLost ||= written === "not_owner";
  fill.log("leader", {
    waitedMs,
    computeMs,
    ...extra,
    ...(written === "written" ? {} : { notWritten: leaseLost ? "lease_lost" : written }),
  });
  return { value, outcome: "miss" };
}

/** Computes for this process's callers without writing (the leader's value is not shared). */
async function computeUnshared<T>(
  fill: FleetFill<T>,
  started: number,
  outcome: "follower_timeout" | "follower_unstored",
): Promise<FillResult<T>> {
  const waitedMs = performance.now() - started;
  const computeStarted = performance.now();
  const value = await fill.miss.produce();
  fill.miss.publish(value);
  fill.log(outcome, { waitedMs, computeMs: performance.now() - computeStarted });
  return { value, outcome: "miss" };
}

/** A lock call's result, or `undefined` when Redis failed it (the caller degrades). */
async function tryRedis<R>(call: () => Promise<R>): Promise<R | undefined> {
  try {
    return await call();
  } catch {
    return undefined;
  }
}

/** The pause before poll `attempt` (0-based): full jitter over a doubling backoff. */
function pollDelayMs(policy: FillPolicy, attempt: number): number {
  return jitteredBackoffMs(attempt, { minMs: policy.pollMinMs, maxMs: policy.pollMaxMs });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function round1(ms: number): number {
  return Math.round(ms * 10) / 10;
}
